"""Editor tests drive real editors' code against the real daemon; their tools come from npm
and from Neovim packages. Without a tool a test skips with the reason, unless
LEAN_BATCHD_EDITOR_TESTS=required (as `.ci/run` sets), where a missing tool fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("LEAN_BATCHD_EDITOR_TESTS") == "required"


def missing(what: str) -> None:
    """Skip (or, when editor tests are required, fail) for a missing tool."""
    if REQUIRED:
        pytest.fail(f"{what}, and LEAN_BATCHD_EDITOR_TESTS=required")
    pytest.skip(what)


def run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Runs a tool; on failure the assertion shows everything it printed."""
    done = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{output}"
    return output
