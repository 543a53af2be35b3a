"""MCP tests: the SDK's own client over stdio, `lean-batchd mcp` in a real process, the real
shared daemon it starts (SIMULATED REPL)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import CallToolResult

from tests.server.conftest import sock  # noqa: F401  (the daemon's socket, stopped afterwards)
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

SIMULATED = ["--simulate", "--sim-import-seconds", "0.3", "--sim-memory-mb", "5"]
ARTIFACTS = Path(
    os.environ.get("LEAN_BATCHD_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "build/test-artifacts"
)


@contextlib.asynccontextmanager
async def mcp_client(socket: Path, cwd: Path, *extra: str) -> AsyncIterator[Client]:
    """`lean-batchd mcp` over stdio, reaching (and starting) the daemon on `socket`."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lean_batchd", "mcp", *SIMULATED, "--socket", str(socket), *extra],
        cwd=str(cwd),
        env=dict(os.environ),
    )
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


def data(result: CallToolResult) -> Any:
    """A successful call's structured content (its text content is the same JSON)."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    return result.structured_content


def error(result: CallToolResult) -> tuple[str, str]:
    """A failed call's typed error: (kind, message)."""
    assert result.is_error and result.structured_content is not None, result
    found = result.structured_content["error"]
    return found["kind"], found["message"]


@pytest.fixture
def transcript() -> Any:
    """Requests and responses of a test's MCP session, kept as an example of the protocol in use
    (`build/test-artifacts/mcp/`)."""
    records: list[dict[str, Any]] = []
    yield records
    folder = ARTIFACTS / "mcp"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "transcript.jsonl").open("w") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
