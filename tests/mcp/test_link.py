"""The MCP server's link to the daemon: a daemon that accepts and never answers is a typed
`no-daemon` failure in bounded time, not a tool call hanging behind the connection lock."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from lean_batchd.mcp import link
from lean_batchd.mcp.link import DaemonLink, LinkConfig, ToolFailure
from tests.server.test_runtime import short_folder

pytestmark = pytest.mark.timeout(60)


def test_a_daemon_that_never_answers_is_no_daemon_in_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    path = short_folder() / "d.sock"
    path.parent.mkdir(mode=0o700)
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(str(path))
    path.chmod(0o600)
    mute.listen()  # accepts (the kernel's backlog) and never reads or writes
    monkeypatch.setattr(link, "HELLO_TIMEOUT", 1.0)

    async def twice() -> list[object]:
        reach = DaemonLink(LinkConfig(path, (), ()))
        return [await reach.client(), await reach.client()]  # the lock is free again after the first

    try:
        began = time.monotonic()
        got = asyncio.run(twice())
        assert time.monotonic() - began < 10
        assert all(isinstance(g, ToolFailure) and g.kind == "no-daemon" and "1 s" in g.message for g in got), got
    finally:
        mute.close()
