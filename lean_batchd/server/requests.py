"""lean-batchd's own requests (`$/leanBatchd/...`) for one connection, answered from the engine.

Params are read from plain JSON (`methods.py`: -32602 on bad params) and paths
are refused outside the connection's workspace. Answers about a project say
which snapshot they come from (`generation`) and whether an update is pending.
Large answers (a Mathlib plan is 7,919 batches) are built and encoded in a
thread, from the immutable snapshot, so they never hold up the event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.snapshot import ProjectSnapshot
from ..engine.values import EngineError
from ..plan.keys import Profile, Strategy
from . import methods as m
from .render import fingerprint_result, plan_result
from .workspace import Workspace

if TYPE_CHECKING:
    from .session import Session


@dataclass(frozen=True, slots=True)
class Encoded:
    """A result already encoded as ASCII JSON."""

    text: str


def _encoded(value: Any) -> Encoded:
    return Encoded(json.dumps(value, ensure_ascii=True, separators=(",", ":")))


class Requests:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.engine = session.engine
        self.hub = session.hub

    @property
    def workspace(self) -> Workspace:
        return self.session.workspace

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        return {
            m.PROJECTS: self.projects,
            m.MODULES: self.modules,
            m.MODULE_INFO: self.module_info,
            m.PLAN: self.plan,
            m.FINGERPRINT: self.fingerprint,
            m.PREWARM: self.prewarm,
            m.RUN: self.run,
            m.CHECK: self.check,
            m.STATUS: self.status,
            m.EVICT: self.evict,
            m.STOP_DAEMON: self.stop_daemon,
            m.SNIPPET_INFO: self.snippet_info,
            m.CHECK_SNIPPET: self.check_snippet,
            m.RUN_SNIPPET: self.run_snippet,
        }

    async def projects(self, params: dict[str, Any]) -> Any:
        for folder in self.workspace.current:
            await self.engine.project_for(str(folder.real))
        status = self.engine.status()
        projects: list[dict[str, Any]] = status["projects"]  # type: ignore[assignment]
        return [p for p in projects if self.session.covers(Path(p["root"]))]

    async def modules(self, params: dict[str, Any]) -> Any:
        view = await self.engine.view(self.session.default_root(params))
        if isinstance(view, EngineError):
            return view
        snap, uri = view.snapshot, self.workspace.uri

        def listed(snap: ProjectSnapshot) -> Encoded:
            return _encoded(
                [
                    {
                        "module": name,
                        "uri": uri(snap.modules[name].path),
                        "library": snap.works[name].library,
                        "batchId": snap.batch_of.get(name),
                    }
                    for name in sorted(snap.works)
                ]
            )

        return await asyncio.to_thread(listed, snap)

    async def module_info(self, params: dict[str, Any]) -> Any:
        path = self.session.inside(m.text_document(params) or "")
        info = await self.engine.module_info(path, self.session.name)
        return info if isinstance(info, EngineError) else {"uri": params["textDocument"]["uri"], **info.to_json()}

    async def plan(self, params: dict[str, Any]) -> Any:
        root = self.session.default_root(params)
        profile = m.opt_str(params, "profile", tuple(str(p) for p in Profile)) or str(Profile.HEADER)
        strategy = m.opt_str(params, "strategy", tuple(str(s) for s in Strategy)) or str(Strategy.EXACT)
        cap = m.opt_positive_int(params, "maxClosure")
        planned = await self.engine.plan(root, Profile(profile), Strategy(strategy), cap)
        if isinstance(planned, EngineError):
            return planned
        managed = await self.engine.project_for(root)
        assert not isinstance(managed, EngineError)
        shown = self.workspace.shown(managed.root)
        return await asyncio.to_thread(
            lambda: _encoded(plan_result(planned.plan, shown, planned.generation, planned.pending))
        )

    async def fingerprint(self, params: dict[str, Any]) -> Any:
        view = await self.engine.view(self.session.default_root(params))
        if isinstance(view, EngineError):
            return view
        return fingerprint_result(view.snapshot.fingerprint, view.snapshot.generation, view.pending)

    async def prewarm(self, params: dict[str, Any]) -> Any:
        path = m.text_document(params, required=False)
        digest = m.opt_str(params, "sessionKey")
        header = m.opt_str(params, "header")
        if path is None and digest is None and header is None:
            raise m.ParamsError("give `textDocument`, `sessionKey` or `header`")
        if header is not None and path is None and digest is None:
            found = await self.engine.snippets.prewarm(header, self._snippet_folder(params))
            key = found if isinstance(found, EngineError) else found.key
        else:
            key = await self.engine.prewarm(self.session.inside(path) if path else None, digest, self.session.name)
        if isinstance(key, EngineError):
            return key
        self.hub.track_prewarm(self.session, key.digest, " ".join(i.render() for i in key.imports) or "(no imports)")
        return {"sessionKey": key.digest, "started": True}

    async def run(self, params: dict[str, Any]) -> Any:
        path = self.session.inside(m.text_document(params) or "")
        command = m.opt_str(params, "command")
        timeout = m.opt_positive_int(params, "timeoutMs")
        seconds = None if timeout is None else timeout / 1000
        result = await self.engine.run(path, command, seconds, self.session.name)
        return result if isinstance(result, EngineError) else {"uri": params["textDocument"]["uri"], **result.to_json()}

    async def check(self, params: dict[str, Any]) -> Any:
        path = self.session.inside(m.text_document(params) or "")
        timeout = m.opt_positive_int(params, "timeoutMs")
        build_check = m.opt_bool(params, "buildCheck", True)
        cache = m.opt_bool(params, "cache", True)
        seconds = None if timeout is None else timeout / 1000
        outcome = await self.engine.check(path, seconds, build_check, self.session.name, cache)
        return outcome if isinstance(outcome, EngineError) else outcome.to_json()

    def _snippet_folder(self, params: dict[str, Any]) -> str | None:
        """The project folder a snippet names (`uri`, inside the workspace); None: the bare toolchain."""
        uri = params.get("uri")
        return None if uri is None else self.session.inside(m.path_of_uri(uri))

    async def snippet_info(self, params: dict[str, Any]) -> Any:
        return await self.engine.snippets.info(m.req_str(params, "code"), self._snippet_folder(params))

    async def check_snippet(self, params: dict[str, Any]) -> Any:
        code = m.req_str(params, "code")
        folder = self._snippet_folder(params)
        timeout = m.opt_positive_int(params, "timeoutMs")
        build_check = m.opt_bool(params, "buildCheck", True)
        cache = m.opt_bool(params, "cache", True)
        seconds = None if timeout is None else timeout / 1000
        outcome = await self.engine.snippets.check(code, folder, seconds, build_check, cache)
        return outcome if isinstance(outcome, EngineError) else {**outcome.to_json(), "path": None}

    async def run_snippet(self, params: dict[str, Any]) -> Any:
        header, command = m.req_str(params, "header"), m.req_str(params, "command")
        timeout = m.opt_positive_int(params, "timeoutMs")
        folder = self._snippet_folder(params)
        result = await self.engine.snippets.run(header, command, folder, None if timeout is None else timeout / 1000)
        return result if isinstance(result, EngineError) else {**result.to_json(), "path": None}

    async def status(self, params: dict[str, Any]) -> Any:
        daemon = {**self.hub.about, "uptimeSeconds": round(time.time() - self.hub.started, 1)}
        return {**self.engine.status(), "connections": len(self.hub.sessions), "daemon": daemon}

    async def evict(self, params: dict[str, Any]) -> Any:
        path = m.text_document(params, required=False)
        digest = m.opt_str(params, "sessionKey")
        every = m.opt_bool(params, "all", False)
        if path is None and digest is None and not every:
            raise m.ParamsError("give `textDocument`, `sessionKey` or `all: true`")
        inside = self.session.inside(path) if path else None
        evicted = await self.engine.evict(digest, inside, every, self.session.name)
        return evicted if isinstance(evicted, EngineError) else {"evicted": evicted}

    async def stop_daemon(self, params: dict[str, Any]) -> Any:
        asyncio.get_running_loop().call_later(0.05, self.hub.request_stop)
        return {"stopping": True}
