"""Checking through the shared daemon over one connection: what `check` and the MCP server
hand the engine's check runner (`engine.checking.CheckTarget`) when a daemon serves."""

from __future__ import annotations

from typing import Any

from ..engine.checking import PoolMemory
from ..engine.outcome import FileOutcome
from ..engine.values import EngineError, ErrorKind
from . import methods as m
from .client import AsyncDaemonClient, DaemonRequestError


class DaemonTarget:
    """Checks through a running daemon over one connection: the daemon serves its requests
    concurrently, and dropping the connection (Ctrl-C, a closed pipe) cancels them there."""

    def __init__(
        self, client: AsyncDaemonClient, simulated: bool, build_check: bool, timeout: float | None, cache: bool
    ) -> None:
        self.client = client
        self.simulated = simulated
        self.build_check = build_check
        self.timeout = timeout
        self.cache = cache

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return await self.client.request(method, params)
        except DaemonRequestError as e:
            kind = e.data.get("kind") if isinstance(e.data, dict) else None
            return EngineError(ErrorKind(kind) if kind in set(ErrorKind) else ErrorKind.WORKER, str(e))
        except ConnectionError as e:
            return EngineError(ErrorKind.NO_DAEMON, f"lost the shared daemon: {e}")

    async def ready(self, path: str) -> EngineError | None:
        return None  # the daemon answers each file; a missing REPL is its first answer

    async def session_of(self, path: str) -> tuple[str, str] | EngineError:
        info = await self._call(m.MODULE_INFO, {"textDocument": {"uri": m.uri_of_path(path)}})
        if isinstance(info, EngineError):
            return info
        return info["sessionKey"], ", ".join(info["imports"]) or "(no imports)"

    async def check(self, path: str, more_in_session: bool = True) -> FileOutcome | EngineError:
        params: dict[str, Any] = {
            "textDocument": {"uri": m.uri_of_path(path)},
            "buildCheck": self.build_check,
            "cache": self.cache,
        }
        if self.timeout is not None:
            params["timeoutMs"] = max(1, round(self.timeout * 1000))
        got = await self._call(m.CHECK, params)
        return got if isinstance(got, EngineError) else FileOutcome.from_json(got)

    def _snippet(self, code: str, folder: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"code": code}
        if folder is not None:
            params["uri"] = m.uri_of_path(folder)
        return params

    async def snippet_session(self, code: str, folder: str | None) -> tuple[str, str] | EngineError:
        info = await self._call(m.SNIPPET_INFO, self._snippet(code, folder))
        if isinstance(info, EngineError):
            return info
        return info["sessionKey"], ", ".join(info["imports"]) or "(no imports)"

    async def check_snippet(self, code: str, folder: str | None) -> FileOutcome | EngineError:
        params = {**self._snippet(code, folder), "buildCheck": self.build_check, "cache": self.cache}
        if self.timeout is not None:
            params["timeoutMs"] = max(1, round(self.timeout * 1000))
        got = await self._call(m.CHECK_SNIPPET, params)
        return got if isinstance(got, EngineError) else FileOutcome.from_json({**got, "path": ""})

    async def workers(self) -> tuple[int, float]:
        status = await self._call(m.STATUS, {})
        if isinstance(status, EngineError):
            return 0, 0.0
        pool = status["pool"]
        return sum(1 for w in pool["workers"] if w["state"] in ("warm", "busy")), float(pool["chargedMb"])

    async def memory(self) -> PoolMemory:
        status = await self._call(m.STATUS, {})
        return PoolMemory(0.0, None, 0.0) if isinstance(status, EngineError) else PoolMemory.from_json(status["pool"])
