"""The MCP SDK loads only for `lean-batchd mcp`, and the MCP front end loads no LSP library."""

from __future__ import annotations

import subprocess
import sys


def loaded(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return set(done.stdout.split())


def test_the_command_line_starts_without_the_mcp_sdk_or_pygls() -> None:
    found = loaded("import lean_batchd.cli")
    assert "lean_batchd" in found and not found & {"mcp", "mcp_types", "pygls", "lsprotocol"}


def test_the_mcp_front_end_loads_no_lsp_library() -> None:
    found = loaded("import lean_batchd.mcp.server")
    assert "mcp" in found and not found & {"pygls", "lsprotocol"}


def test_mcp_refuses_a_project_folder_that_is_no_project(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "mcp", "--simulate", "--project", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "not inside a Lake project" in done.stderr
