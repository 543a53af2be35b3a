"""The daemon's core: projects (model, plan, watcher) and the worker pool. No LSP.

Used by the LSP layer and the command line. Blocking work (discovery, model
updates, planning) runs in threads; everything else on the event loop.
Listeners hear about plan changes, diagnostics and workers; they are called
on the loop. Paths are resolved (`real_path`) on the way in; questions about a
file name the `owner` whose unsaved buffers they see (None: files on disk).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from ..executors import BatchItem, SessionBatch, executor_for
from ..lake.diagnostics import Diagnostic
from ..plan.keys import Profile, SessionKey, Strategy
from ..plan.planner import PlanConfig
from ..store.database import StoreDatabase
from ..store.location import project_folder
from ..store.models import OpenedModel
from ..store.results import ResultStore, process_command
from ..workers.locate import ReplFound, ReplMismatch, ReplNotFound
from ..workers.pool import PoolSnapshot, WorkerPool
from ..workers.worker import WorkerInfo
from .config import EngineConfig
from .elaborate import check_file
from .managed import ManagedProject, model_thread, real_path
from .news import PlanNews
from .outcome import FileOutcome
from .projects import OpenProjects
from .replies import body_of, run_result
from .revision import plan_now
from .snapshot import FileDiagnostics, ProjectSnapshot, ProjectView, Session
from .snippets import Snippets
from .values import EngineError, ErrorKind, ModuleInfo, Planned, RunResult

NO_REPL_COMMAND = ("lean-batchd-no-repl-found",)
T = TypeVar("T")
WORKER_RANK = {"warm": 0, "busy": 1, "importing": 2, "starting": 3}
"""How useful a worker in each state is to its session (lower: more); other states: none."""
log = logging.getLogger(__name__)


PlanListener = Callable[[Path, PlanNews], None]
DiagnosticsListener = Callable[[Path, Mapping[str, FileDiagnostics]], None]
"""Hears the files whose diagnostics changed (an empty entry: cleared); all of them on opening."""


class Engine:
    def __init__(self, config: EngineConfig | None = None, models: dict[Path, OpenedModel] | None = None) -> None:
        """`models`: projects' models a caller opened already (by root) with the config's
        `project_options()`: taken out of the mapping and over, instead of opened again."""
        self.config = config or EngineConfig()
        self.pool = WorkerPool(self.config.pool)
        self.executor = executor_for(self.config.executor, self.pool)
        self._keys: dict[str, tuple[Path, SessionKey]] = {}
        """Session keys of buffers and files outside the plan, by digest (planned ones are in the snapshots)."""
        self._results: dict[Path, ResultStore] = {}
        self.plan_listeners: list[PlanListener] = []
        self.diagnostics_listeners: list[DiagnosticsListener] = []
        self.worker_listeners: list[Callable[[WorkerInfo], None]] = []
        self.open_projects = OpenProjects(self.config, self.pool, self._announce, self._diagnosed, models)
        self.pool.on_change(self._worker_changed)
        self.snippets = Snippets(self)
        """Snippets: Lean text with its own header, checked and run like files (`snippets.py`)."""

    # -- projects ---------------------------------------------------------------------

    @property
    def projects(self) -> dict[Path, ManagedProject]:
        return self.open_projects.projects

    @property
    def changes_applied(self) -> int:
        return self.open_projects.changes_applied

    async def project_for(self, path: str | Path) -> ManagedProject | EngineError:
        """The project `path` belongs to, discovered (once) and watched."""
        return await self.open_projects.project_for(path)

    def resolved(self, path: str) -> bool:
        return self.open_projects.resolved(path)

    async def apply_paths(self, path: str | Path, changed: list[str]) -> None:
        """Apply changes a caller knows of (tests, or a client's didSave) without waiting for the watcher."""
        await self.open_projects.apply_paths(path, changed)

    async def view(self, path: str | Path) -> ProjectView | EngineError:
        return await self.open_projects.view(path)

    async def quiet(self, path: str | Path) -> ProjectSnapshot | EngineError:
        return await self.open_projects.quiet(path)

    def _announce(self, root: Path, news: PlanNews) -> None:
        for listener in self.plan_listeners:
            _call(listener, root, news)

    def _diagnosed(self, root: Path, found: Mapping[str, FileDiagnostics]) -> None:
        for listener in self.diagnostics_listeners:
            _call(listener, root, found)

    # -- queries ----------------------------------------------------------------------

    async def _session(
        self, path: str, owner: str | None
    ) -> tuple[ManagedProject, ProjectSnapshot, Session] | EngineError:
        """The file's session as `owner` sees it, from the project's current snapshot: no lock. A
        path the snapshot holds as a module's file is resolved already (the model keys files by
        their resolved paths, and the watcher reports a folder turned into a symlink)."""
        absolute = path if self.resolved(path) else real_path(path)
        managed = await self.open_projects.project(absolute)
        if isinstance(managed, EngineError):
            return managed
        snap, session = await managed.session(absolute, owner)
        if session.key.digest not in snap.keys:
            self._keys[session.key.digest] = (managed.root, session.key)
        return managed, snap, session

    async def runnable(self, path: str) -> tuple[ManagedProject, Session] | EngineError:
        """The file's session on disk, when a worker can be started for it."""
        return await self._runnable(path, None)

    async def _runnable(self, path: str, owner: str | None) -> tuple[ManagedProject, Session] | EngineError:
        """The file's session, when a worker can be started for it (there is a Lean REPL)."""
        got = await self._session(path, owner)
        if isinstance(got, EngineError):
            return got
        missing = self._no_repl(got[0].root)
        return (got[0], got[2]) if missing is None else missing

    def worker_of(self, key: SessionKey | str) -> WorkerInfo | None:
        """The most useful worker holding `key` (or the key of this digest): warm, then busy, then
        one on its way. Editors show one state per session, while a session may have two workers
        (a spare warming while the old one serves, or retires): this is the one to show."""
        rank = WORKER_RANK
        digest = key if isinstance(key, str) else None
        infos = [
            w.info()
            for w in self.pool.workers
            if (w.key.digest == digest if digest is not None else w.key == key) and str(w.state) in rank
        ]
        return min(infos, key=lambda i: rank[str(i.state)], default=None)

    async def module_info(self, path: str, owner: str | None = None) -> ModuleInfo | EngineError:
        got = await self._session(path, owner)
        if isinstance(got, EngineError):
            return got
        managed, snap, session = got
        absolute = session.path
        work, key = session.work, session.key
        worker = self.worker_of(key)
        module = snap.module_at(absolute)
        members = snap.members.get(key.digest)
        return ModuleInfo(
            path=absolute,
            module=module,
            library=work.library,
            imports=tuple(i.render() for i in work.imports),
            header_end=(work.header_end.line, work.header_end.column) if work.header_end else (1, 0),
            closure_size=session.closure_size,
            batch_id=key.digest if members is not None else None,
            session_key=key.digest,
            worker_state=str(worker.state) if worker is not None else "cold",
            worker_memory_mb=round(worker.memory.charge_mb, 1)
            if worker is not None and worker.memory.processes
            else None,
            sharing=len(members) if members is not None else 0,
            unsaved=session.unsaved,
            diagnostics=snap.file_diagnostics(absolute).diagnostics if module is not None else (),
            generation=snap.generation,
            pending=self.open_projects.updater(managed.root).pending(),
        )

    async def plan(
        self, path: str, profile: Profile = Profile.HEADER, strategy: Strategy = Strategy.EXACT,
        max_closure: int | None = None,
    ) -> Planned | EngineError:  # fmt: skip
        """The project's plan: the daemon's own (header, exact), its fingerprints settled for the
        current snapshot on demand; or another profile's or strategy's, planned from the current
        snapshot in a thread. Neither waits for an update of the model."""
        managed = await self.project_for(path)
        if isinstance(managed, EngineError):
            return managed
        updater = self.open_projects.updater(managed.root)
        if profile is Profile.HEADER and strategy is Strategy.EXACT and max_closure is None:
            snap = await updater.settle()
            return Planned(
                snap.plan, snap.plan_generation, updater.changing() or snap.plan_generation < snap.generation
            )
        snap = managed.snapshot
        config = PlanConfig(profile=profile, strategy=strategy, max_closure=max_closure)
        return Planned(await asyncio.to_thread(plan_now, snap, config), snap.generation, updater.changing())

    async def repl_problem(self, path: str) -> EngineError | None:
        """Why no worker can start for `path`'s project (no project, no Lean REPL), if so."""
        managed = await self.project_for(path)
        return managed if isinstance(managed, EngineError) else self._no_repl(managed.root)

    def _no_repl(self, root: Path) -> EngineError | None:
        repl = self.open_projects.repl(root)
        if isinstance(repl, ReplNotFound):
            return EngineError(ErrorKind.NO_REPL, repl.message())
        if isinstance(repl, ReplMismatch):
            return EngineError(ErrorKind.REPL_MISMATCH, repl.message())
        return None

    async def prewarm(
        self, path: str | None = None, key_digest: str | None = None, owner: str | None = None
    ) -> SessionKey | EngineError:
        """Start the session's worker in the background; returns the key at once."""
        if path is not None:
            got = await self._session(path, owner)
            if isinstance(got, EngineError):
                return got
            managed, _, session = got
            root, key, size = managed.root, session.key, session.closure_size
        else:
            found = self._key_of(key_digest) if key_digest is not None else None
            if found is None:
                return EngineError(ErrorKind.UNKNOWN_SESSION, f"no session with key {key_digest}")
            root, key, size = found
        missing = self._no_repl(root)
        if missing is not None:
            return missing
        self.executor.prewarm(key, size)  # `run` uses the session even where `check` does not
        return key

    def _key_of(self, digest: str) -> tuple[Path, SessionKey, int] | None:
        """A session key by digest: a planned batch's, or one a buffer or an outside file needed."""
        for root, managed in self.projects.items():
            snap = managed.snapshot
            key = snap.key(digest)
            if key is None and self._keys.get(digest, (None,))[0] == root:
                key = self._keys[digest][1]
            if key is not None:
                return root, key, snap.closure_size(key)
        return None

    async def run(
        self,
        path: str,
        command: str | None = None,
        timeout: float | None = None,
        owner: str | None = None,
        expect_more: bool = True,
    ) -> RunResult | EngineError:
        """Elaborate `command` (default: the file's body, `owner`'s unsaved text if it has one) in
        the file's header session, with messages mapped to the file as if the text sat right
        after the header. `expect_more`: whether more requests on this session will follow soon
        (see `Lease.expect_more`)."""
        got = await self._runnable(path, owner)
        if isinstance(got, EngineError):
            return got
        managed, session = got
        text = await managed.text_of(session.path, owner)
        return await self.elaborate_text(session, session.path, text, command, timeout, expect_more)

    async def elaborate_text(
        self,
        session: Session,
        path: str,
        text: str,
        command: str | None,
        timeout: float | None,
        expect_more: bool = True,
    ) -> RunResult | EngineError:
        """`run` on `text`, the file's text as the caller read it (what a stored outcome is keyed by),
        as a batch of one on the engine's executor."""
        sent = body_of(session, text) if command is None else command
        started = time.monotonic()
        batch = SessionBatch(session.key, session.closure_size, (BatchItem(sent, timeout, expect_more),))
        answers = [got async for got in self.executor.run_batch(batch)]
        got = answers[0]
        return run_result(
            session, path, text, got.answer, got.options, time.monotonic() - started, self.config.simulated
        )

    async def check(
        self,
        path: str,
        timeout: float | None = None,
        build_check: bool = True,
        owner: str | None = None,
        cache: bool = True,
        expect_more: bool = True,
    ) -> FileOutcome | EngineError:
        """Elaborate the file as `lake build` would see it: its body in its header's warm session,
        or the whole file in `lean --json` where a session cannot be faithful (`plan.elaboration`).
        With `build_check`, a file whose imports are not built (Lake would rebuild one) is not
        checked but answered "build first": Lean would load the stale `.olean`, not the source.
        `owner`'s unsaved text counts where it has a buffer of the file. With `cache`, the
        outcome comes from the project's store while nothing it depends on has changed
        (`elaborate.check_file`)."""
        got = await self._runnable(path, owner)
        if isinstance(got, EngineError):
            return got
        results = self.result_store(got[0].root) if cache else None
        return await check_file(self, got[0], got[1], got[1].path, timeout, build_check, owner, results, expect_more)

    def result_store(self, root: Path) -> ResultStore | None:
        """The project's stored outcomes (None when the engine keeps none)."""
        if not (self.config.store and self.config.result_cache):
            return None
        found = self._results.get(root)
        if found is None:
            found = self._results[root] = ResultStore(StoreDatabase(project_folder(root)), process_command())
        return found

    def status(self) -> dict[str, object]:
        snapshot: PoolSnapshot = self.pool.snapshot()
        return {
            "projects": [
                {
                    "root": str(root),
                    "name": (snap := m.snapshot).name,
                    "modules": len(snap.works),
                    "batches": len(snap.members),
                    "fingerprint": snap.fingerprint.digest,
                    "generation": snap.generation,
                    "pending": self.open_projects.updater(root).changing(),
                    "settled": snap.settled,
                    "repl": list(r.command) if isinstance(r := self.open_projects.repl(root), ReplFound) else None,
                    "watching": self.open_projects.watching(root),
                    "openBuffers": sum(len(b) for b in m.buffers.values()),
                }
                for root, m in self.projects.items()
            ],
            "pool": snapshot.to_json(),
            "executor": self.executor.status(),
            "simulated": self.config.simulated,
        }

    async def evict(
        self,
        key_digest: str | None = None,
        path: str | None = None,
        every: bool = False,
        owner: str | None = None,
    ) -> int | EngineError:
        """Stop the workers of a session (by key, or the session of `path` as `owner` sees it), or
        all of them."""
        if path is not None:
            got = await self._session(path, owner)
            if isinstance(got, EngineError):
                return got
            key_digest = got[2].key.digest
        return await self.pool.evict(lambda k: every or k.digest == key_digest)

    # -- editor buffers ---------------------------------------------------------------

    async def set_buffer(self, path: str, text: str | None, owner: str) -> SessionKey | EngineError:
        """`owner` (a connection) opened or changed (`text`) or closed (None) a buffer. Returns the
        file's session as `owner` sees it."""
        managed = await self.project_for(path)
        if isinstance(managed, EngineError):
            return managed
        absolute = real_path(path)
        if text is None:
            managed.buffers.get(owner, {}).pop(absolute, None)
        else:
            managed.buffers.setdefault(owner, {})[absolute] = text
        got = await self._session(absolute, owner)
        return got if isinstance(got, EngineError) else got[2].key

    async def buffer_diagnostics(self, path: str, owner: str) -> list[Diagnostic] | None:
        """What `owner`'s unsaved buffer of `path` shows wrong in its header, as a save would
        report it; None when `owner` has no buffer of it. Resolving imports takes the model: this
        waits for an update in progress (callers do not hold up other requests for it)."""
        managed = await self.project_for(path)
        if isinstance(managed, EngineError):
            return None
        absolute = real_path(path)
        text = managed.buffer(absolute, owner)
        if text is None:
            return None
        async with managed.lock:
            return await model_thread(managed.project.buffer_diagnostics, absolute, text)

    def drop_buffers(self, owner: str) -> None:
        """`owner` is gone (closed or disconnected): so are its unsaved buffers."""
        for managed in self.projects.values():
            managed.buffers.pop(owner, None)

    # -- lifecycle --------------------------------------------------------------------

    def _worker_changed(self, info: WorkerInfo) -> None:
        for listener in self.worker_listeners:
            listener(info)

    async def close(self) -> None:
        await self.open_projects.close()
        await self.executor.close()
        await self.pool.close()
        for results in self._results.values():
            await asyncio.to_thread(results.close)
        self._results.clear()
        await self.open_projects.save_changed()


def _call(listener: Callable[[Path, T], None], root: Path, news: T) -> None:
    """A listener's bug is logged; the update that called it goes on."""
    try:
        listener(root, news)
    except Exception:
        log.exception("a listener failed on news of %s", root)
