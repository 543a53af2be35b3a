"""The MCP server's connection to the shared daemon, reached as `connect` reaches it.

The daemon is started when none answers (`bridge.open_daemon`: detached, its own log), and the
connection declares the agent's workspace: the projects it may name paths in. A connection
that drops (the user restarted the daemon, it crashed) fails the calls in flight with a typed
`no-daemon` error; the next call connects again, starting a daemon if needed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..engine.managed import real_path
from ..engine.values import EngineError, ErrorKind
from ..server import methods as m
from ..server.bridge import open_daemon
from ..server.client import AsyncDaemonClient, DaemonRequestError


class ToolErrorKind(StrEnum):
    """What a tool's typed error says went wrong, besides the engine's own kinds (`ErrorKind`)."""

    INVALID_ARGUMENTS = "invalid-arguments"
    """The arguments do not fit the tool's input schema, or the daemon refused them."""
    OUTSIDE_WORKSPACE = "outside-workspace"
    NOT_FOUND = "not-found"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class ToolFailure:
    kind: str
    """An `ErrorKind` or a `ToolErrorKind` value."""
    message: str

    @staticmethod
    def of(error: EngineError) -> ToolFailure:
        return ToolFailure(str(error.kind), error.message)


@dataclass(frozen=True, slots=True)
class LinkConfig:
    socket: Path
    serve_args: tuple[str, ...]
    """What a daemon this link starts is started with (as `connect` passes them on)."""
    projects: tuple[Path, ...]
    """The agent's workspace: Lake project roots (symlinks resolved)."""


HELLO_TIMEOUT = 30.0
"""How long a daemon may take to answer `initialize` and `status` (it answers those from memory:
one that does not is wedged, and every tool call would hang behind the connection lock)."""


class DaemonLink:
    def __init__(self, config: LinkConfig) -> None:
        self.config = config
        self._client: AsyncDaemonClient | None = None
        self._connecting = asyncio.Lock()
        self.simulated = False

    def project_of(self, path: str | Path) -> Path | None:
        """The workspace's project holding `path` (symlinks resolved), if one does."""
        real = Path(real_path(path))
        found = [p for p in self.config.projects if real == p or real.is_relative_to(p)]
        return max(found, key=lambda p: len(p.parts), default=None)

    async def client(self) -> AsyncDaemonClient | ToolFailure:
        """The live connection, opened (and the daemon started) when there is none."""
        async with self._connecting:
            if self._client is not None and not self._client.lost:
                return self._client
            got = await asyncio.to_thread(open_daemon, self.config.socket, list(self.config.serve_args))
            if isinstance(got, str):
                return ToolFailure(str(ErrorKind.NO_DAEMON), f"cannot reach the lean-batchd daemon: {got}")
            client: AsyncDaemonClient | None = None
            try:
                async with asyncio.timeout(HELLO_TIMEOUT):
                    client = await AsyncDaemonClient.over(got, list(self.config.projects))
                async with asyncio.timeout(HELLO_TIMEOUT):
                    status = await client.request(m.STATUS, {})
            except (OSError, ConnectionError, DaemonRequestError, TimeoutError) as e:
                if client is not None:
                    client.abort()
                got.close()
                why = f"no answer within {HELLO_TIMEOUT:g} s" if isinstance(e, TimeoutError) else str(e)
                return ToolFailure(str(ErrorKind.NO_DAEMON), f"the lean-batchd daemon did not answer: {why}")
            self.simulated = bool(status.get("simulated"))
            self._client = client
            return client

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        """The daemon's result, or a `ToolFailure` (the engine's typed error; `invalid-arguments`
        for params the daemon refuses)."""
        client = await self.client()
        if isinstance(client, ToolFailure):
            return client
        try:
            return await client.request(method, params)
        except DaemonRequestError as e:
            kind = e.data.get("kind") if isinstance(e.data, dict) else None
            if kind in set(ErrorKind):
                return ToolFailure(str(kind), str(e))
            invalid = e.code == m.INVALID_PARAMS
            return ToolFailure(str(ToolErrorKind.INVALID_ARGUMENTS if invalid else ErrorKind.WORKER), str(e))
        except ConnectionError as e:
            return ToolFailure(str(ErrorKind.NO_DAEMON), f"lost the lean-batchd daemon ({e}); the next call reconnects")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
