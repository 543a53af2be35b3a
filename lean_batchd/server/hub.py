"""All connections of one daemon over one engine: what they share and what they are told.

Each connection is its own `Session`; the hub fans the engine's news out to
them (plan changes and diagnostics to the sessions whose workspace holds the
project, worker changes to all) through each one's `Outbox`, follows prewarms
with work-done progress, and keeps the shared daemon alive while any
connection lives. Diagnostics go out only for files whose diagnostics changed
(as the connection sees them: its unsaved buffers' headers win), rendered from
what the engine read in its thread: no file is read here, on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from lsprotocol import types

from ..engine.engine import WORKER_RANK, Engine
from ..engine.news import PlanNews
from ..engine.snapshot import NO_DIAGNOSTICS, FileDiagnostics
from ..engine.values import EngineError
from ..workers.locate import ReplFound
from ..workers.worker import WorkerInfo
from . import methods as m
from .outbox import plan_changed_frame
from .render import publish_diagnostics, worker_changed
from .session import Session

log = logging.getLogger(__name__)
_tokens = itertools.count(1)
LENS_REFRESH_INTERVAL = 0.1


class Hub:
    def __init__(
        self,
        engine: Engine,
        token: str | None = None,
        idle_timeout: float | None = None,
        prewarm_on_open: bool = True,
    ) -> None:
        self.engine = engine
        self.token = token
        self.idle_timeout = idle_timeout
        self.prewarm_on_open = prewarm_on_open
        self.sessions: set[Session] = set()
        self.started = time.time()
        self.about: dict[str, object] = {}
        """The daemon's pid, address, log and command line, for `status` (set by the server)."""
        self.stopped = asyncio.Event()
        self._idle: asyncio.TimerHandle | None = None
        self._prewarms: dict[str, list[tuple[Session, str]]] = {}
        self._refresh: asyncio.TimerHandle | None = None
        self._refreshed = float("-inf")
        engine.plan_listeners.append(self._plan_changed)
        engine.diagnostics_listeners.append(self._diagnostics_changed)
        engine.worker_listeners.append(self._worker_changed)

    # -- connections -------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        self.sessions.add(session)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        session.on_close(lambda: self.detach(session))

    def detach(self, session: Session) -> None:
        self.sessions.discard(session)
        for waiting in self._prewarms.values():
            waiting[:] = [(s, t) for s, t in waiting if s is not session]
        if not self.sessions and self.idle_timeout is not None and not self.stopped.is_set():
            self._idle = asyncio.get_running_loop().call_later(self.idle_timeout, self.request_stop)

    def request_stop(self) -> None:
        self.stopped.set()

    def start_idle_timer(self) -> None:
        if not self.sessions and self.idle_timeout is not None:
            self._idle = asyncio.get_running_loop().call_later(self.idle_timeout, self.request_stop)

    async def open_for(self, session: Session, root: Path) -> None:
        """Discover a workspace root's project, with progress and a log line, then show its diagnostics."""
        token = f"lean-batchd-discover-{next(_tokens)}"
        progress = await self._begin(session, token, "lean-batchd: reading the Lake project", str(root))
        managed = await self.engine.project_for(str(root))
        if progress:
            session.ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))
        if isinstance(managed, EngineError):
            session.log(f"lean-batchd: {managed.message}", types.MessageType.Warning)
            return
        snap = managed.snapshot
        session.log(
            f"lean-batchd: {snap.name} at {managed.root}: {len(snap.works)} modules, "
            f"{len(snap.members)} header sessions"
        )
        repl = self.engine.open_projects.repl(managed.root)
        if repl is not None and not isinstance(repl, ReplFound):
            session.log(f"lean-batchd: {repl.message()}", types.MessageType.Warning)
        if session.initialized:
            self._publish(session, managed.snapshot.diagnostics)

    async def _begin(self, session: Session, token: str, title: str, message: str) -> bool:
        capabilities = session.ls.client_capabilities
        if capabilities.window is None or not capabilities.window.work_done_progress or session.closed:
            return False
        try:
            async with asyncio.timeout(5):
                await session.ls.work_done_progress.create_async(token)
        except (TimeoutError, Exception):  # a client that does not answer gets no progress
            return False
        session.ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message))
        return True

    # -- engine news -------------------------------------------------------------------

    def _plan_changed(self, root: Path, news: PlanNews) -> None:
        framed: dict[str, bytes] = {}  # encoded once per spelling of the root, for every client
        for session in list(self.sessions):
            if session.initialized and not session.closed and session.covers(root):
                uri = session.workspace.uri(root)
                if uri not in framed:
                    framed[uri] = plan_changed_frame(uri, news)
                session.outbox.plan_changed(uri, news, framed[uri])

    def _diagnostics_changed(self, root: Path, found: Mapping[str, FileDiagnostics]) -> None:
        for session in list(self.sessions):
            if session.initialized and not session.closed and session.covers(root):
                self._publish(session, found)

    def _publish(self, session: Session, found: Mapping[str, FileDiagnostics]) -> None:
        """Files' new diagnostics as `session` sees them: its unsaved buffers' headers' instead of
        the saved files' where it has such a buffer."""
        for path, diagnostics in found.items():
            if path not in session.unsaved:
                self._send(session, path, diagnostics)

    def _saved(self, path: str) -> FileDiagnostics:
        """The project's diagnostics of a saved file, as its project's current snapshot has them."""
        for root, managed in self.engine.projects.items():
            if Path(path).is_relative_to(root):
                return managed.snapshot.file_diagnostics(path)
        return NO_DIAGNOSTICS

    def buffer_changed(self, session: Session, path: str, unsaved: FileDiagnostics | None) -> None:
        """`session`'s buffer of `path` now has these header diagnostics (None: closed). A header
        fixed or broken in the editor shows at once there, and only there."""
        if unsaved is None:
            session.unsaved.pop(path, None)
        else:
            session.unsaved[path] = unsaved
        if session.initialized and not session.closed:
            self._send(session, path, unsaved or self._saved(path))

    def _send(self, session: Session, path: str, found: FileDiagnostics) -> None:
        """Publish `found` for `path` unless that is what the client already shows."""
        uri = session.workspace.uri(path)
        if session.shown.get(uri, ()) == found.diagnostics:
            return
        session.outbox.notify(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, publish_diagnostics(uri, found), uri)
        if found.diagnostics:
            session.shown[uri] = found.diagnostics
        else:
            session.shown.pop(uri, None)

    def _worker_changed(self, info: WorkerInfo) -> None:
        """Editors keep one state per session: a worker's news is told as it is unless another
        worker of its session is more useful (`Engine.worker_of`), so a spare warming or a
        recycled worker retiring never makes a warm session look cold."""
        best = self.engine.worker_of(info.key_digest)
        own = WORKER_RANK.get(str(info.state))
        shown = info if best is None or (own is not None and own <= WORKER_RANK[str(best.state)]) else best
        params = worker_changed(shown)
        for session in list(self.sessions):
            if session.initialized and not session.closed:
                session.outbox.notify(m.WORKER_CHANGED, params, info.key_digest)
        if str(shown.state) in ("warm", "dead") and info.key_digest in self._prewarms:
            for session, token in self._prewarms.pop(info.key_digest):
                if not session.closed:
                    message = "warm" if str(shown.state) == "warm" else "failed"
                    session.ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        if self._refresh is None:
            loop = asyncio.get_running_loop()
            wait = max(0.0, self._refreshed + LENS_REFRESH_INTERVAL - loop.time())
            self._refresh = loop.call_later(wait, self._refresh_lenses)

    def _refresh_lenses(self) -> None:
        """Code lenses show the session state: ask clients that can to refresh them, at once after a
        quiet spell (an editor's own debounce follows), else at most 10/s.

        Only clients that have asked for lenses: a client still waiting to ask for the first time
        asks anyway, and in VS Code a refresh re-arms that wait (its debounce, ~1.5 s before the
        first answer), so refreshing then only delays the first lens."""
        self._refresh = None
        self._refreshed = asyncio.get_running_loop().time()
        for session in list(self.sessions):
            workspace = session.ls.client_capabilities.workspace if session.initialized else None
            lenses = workspace.code_lens if workspace is not None else None
            if lenses is not None and lenses.refresh_support and session.lenses_asked and not session.closed:
                session.ls.workspace_code_lens_refresh(None)

    def track_prewarm(self, session: Session, digest: str, header: str) -> None:
        """Show work-done progress in `session` until the session's worker is warm."""
        token = f"lean-batchd-prewarm-{next(_tokens)}"

        async def begin() -> None:
            if any(w.key.digest == digest and str(w.state) == "warm" for w in self.engine.pool.workers):
                return
            if await self._begin(session, token, "lean-batchd: prewarming imports", header):
                self._prewarms.setdefault(digest, []).append((session, token))

        asyncio.get_running_loop().create_task(begin())

    async def close(self) -> None:
        for session in list(self.sessions):
            session.close()
        with contextlib.suppress(Exception):
            await self.engine.close()
