"""End-to-end LSP tests: the real daemon process, driven by pytest-lsp's real pygls client."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

SIMULATED = ["--simulate", "--sim-import-seconds", "0.05", "--sim-memory-mb", "5"]
SERVE = [sys.executable, "-m", "lean_batchd", "serve", *SIMULATED]


def plain(value: Any) -> Any:
    """pygls hands custom results back as namedtuples: turn them into JSON values again."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def request(client: LanguageClient, method: str, params: Any = None) -> Any:
    return plain(await asyncio.wait_for(client.protocol.send_request_async(method, params), 30))


@contextlib.asynccontextmanager
async def lsp(
    root: Path | None, command: list[str] | None = None, editor: str = "visual-studio-code", **options: Any
) -> AsyncIterator[LanguageClient]:
    client = make_test_lsp_client()
    refreshes: list[None] = []
    client.lens_refreshes = refreshes  # type: ignore[attr-defined]
    client.feature(types.WORKSPACE_CODE_LENS_REFRESH)(lambda params: refreshes.append(None))
    cmd = command or SERVE
    await client.start_io(cmd[0], *cmd[1:])
    client.init_result = await client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=root.as_uri() if root else None,
            initialization_options=options or None,
        )
    )
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 20)
        await client.stop()
