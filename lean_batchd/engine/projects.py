"""The projects an engine has open: each found once (from the store when it holds the model),
watched, verified now and then, updated into new snapshots, and stored again when it changed.
Knows the pool only to retire sessions whose `.olean` files were rebuilt; runs no query."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from ..lake.root import RootSearch, find_lake_root
from ..plan.planner import PlanConfig
from ..store.models import OpenedModel, open_project, save_project
from ..workers.locate import Located, ReplFound, find_repl
from ..workers.pool import WorkerPool
from ..workers.shielding import cancel_and_wait
from .config import EngineConfig
from .managed import ManagedProject, model_thread, real_path
from .news import PlanNews
from .revision import settled
from .snapshot import FileDiagnostics, ProjectSnapshot, ProjectView
from .updater import ProjectUpdater
from .values import EngineError, ErrorKind
from .watch import FileChanges, ProjectWatcher

NO_REPL_COMMAND = ("lean-batchd-no-repl-found",)
log = logging.getLogger(__name__)


class OpenProjects:
    def __init__(
        self,
        config: EngineConfig,
        pool: WorkerPool,
        on_plan: Callable[[Path, PlanNews], None],
        on_diagnostics: Callable[[Path, Mapping[str, FileDiagnostics]], None],
        models: dict[Path, OpenedModel] | None = None,
    ) -> None:
        self.config = config
        self._handed = models if models is not None and config.store else {}
        """Models a caller opened already, taken out (the engine owns them then) by the first open
        of their root."""
        self.pool = pool
        self._on_plan = on_plan
        self._on_diagnostics = on_diagnostics
        self.projects: dict[Path, ManagedProject] = {}
        self._opening: dict[Path, asyncio.Task[ManagedProject | EngineError]] = {}
        self._updaters: dict[Path, ProjectUpdater] = {}
        self._watchers: dict[Path, ProjectWatcher] = {}
        self._verifiers: dict[Path, asyncio.Task[None]] = {}
        self._repl: dict[Path, Located] = {}
        self._stored: dict[Path, tuple[str, bool]] = {}
        """Each project's stored-model key, and whether the model (or its plan) changed since."""
        self._saving: set[asyncio.Task[None]] = set()

    @property
    def changes_applied(self) -> int:
        return sum(u.updates for u in self._updaters.values())

    def updater(self, root: Path) -> ProjectUpdater:
        return self._updaters[root]

    def repl(self, root: Path) -> Located | None:
        """The Lean REPL found for the project (or why none was)."""
        return self._repl.get(root)

    def watching(self, root: Path) -> bool:
        return root in self._watchers and self._watchers[root].alive

    async def project_for(self, path: str | Path) -> ManagedProject | EngineError:
        """The project `path` belongs to, discovered (once) and watched."""
        return await self.project(real_path(path))

    def known(self, absolute: str) -> ManagedProject | None:
        """The open project holding a resolved path (the innermost one): string tests, no I/O."""
        found = [m for m in self.projects.values() if absolute == m.root_text or absolute.startswith(m.root_prefix)]
        return max(found, key=lambda m: len(m.root_text), default=None)

    def resolved(self, path: str) -> bool:
        """Is `path` a module's file in its open project's current snapshot? The model keys files by
        their resolved paths (and the watcher reports a folder turned into a symlink), so such a
        path needs no `real_path`: no file-system call on the loop for the files editors ask about."""
        known = self.known(path)
        return known is not None and known.snapshot.module_at(path) is not None

    async def project(self, absolute: str) -> ManagedProject | EngineError:
        """`project_for` a path already resolved (each request resolves its path once)."""
        known = self.known(absolute)
        if known is not None:
            return known
        search = await asyncio.to_thread(find_lake_root, Path(absolute))
        if search.found is None:
            return EngineError(ErrorKind.NO_PROJECT, search.diagnostics[-1].message)
        root = search.found.root
        if root in self.projects:
            return self.projects[root]
        if root not in self._opening:
            self._opening[root] = asyncio.get_running_loop().create_task(self._open(root))
        try:
            return await asyncio.shield(self._opening[root])
        finally:
            if self._opening.get(root) is not None and self._opening[root].done():
                self._opening.pop(root, None)

    async def _open(self, root: Path) -> ManagedProject | EngineError:
        repl: Located
        if self.config.worker_command is not None:
            command = self.config.worker_command
            repl = ReplFound(command, command[-1], "the engine's configuration", None, "not asked")
        else:
            repl = await asyncio.to_thread(find_repl, root, self.config.repl_setting)
            command = repl.command if isinstance(repl, ReplFound) else NO_REPL_COMMAND
        self._repl[root] = repl
        options = self.config.project_options()
        handed = self._handed.pop(root, None)

        def build() -> tuple[ManagedProject, str | None] | EngineError:
            opened: OpenedModel | RootSearch
            if handed is not None and handed.project.options == options:
                opened = handed
            else:
                opened = open_project(root, options, remember=self.config.store, save=False)
            if isinstance(opened, RootSearch):
                return EngineError(ErrorKind.NO_PROJECT, opened.diagnostics[-1].message)
            managed = ManagedProject(opened.project, PlanConfig(worker_command=command), opened.derived.get("plan"))
            return managed, opened.key

        built = await asyncio.to_thread(build)
        if isinstance(built, EngineError):
            return built
        managed, key = built
        if key is not None:
            self._stored[root] = (key, not managed.restored)
            if not managed.restored:  # store the model with its plan, once this answer is out
                task = asyncio.get_running_loop().create_task(self._save(managed))
                self._saving.add(task)
                task.add_done_callback(self._saving.discard)
        # The model lives as long as the daemon: keep the cyclic collector from scanning its
        # ~300,000 objects (at Mathlib scale) again and again, for tens of ms each time.
        gc.freeze()
        self.projects[root] = managed
        self._updaters[root] = ProjectUpdater(
            managed, lambda news: self._on_plan(root, news), lambda found: self._on_diagnostics(root, found)
        )
        if self.config.watch:
            self._watch(managed)
        self._on_diagnostics(root, managed.snapshot.diagnostics)
        return managed

    def _watch(self, managed: ManagedProject) -> None:
        roots = [managed.root] + [
            p.dir for p in managed.project.workspace.dependencies if not p.dir.is_relative_to(managed.root)
        ]
        watcher = ProjectWatcher(
            roots,
            asyncio.get_running_loop(),
            lambda changes: self._apply(managed, changes),
            self.config.debounce,
            self.config.max_delay,
        )
        watcher.start()
        self._watchers[managed.root] = watcher
        self._updaters[managed.root].waiting = lambda: watcher.waiting
        if self.config.verify_interval and managed.root not in self._verifiers:
            self._verifiers[managed.root] = asyncio.get_running_loop().create_task(self._verify(managed))

    async def _verify(self, managed: ManagedProject) -> None:
        """Watchers lose events (overflow, a thread that died): look again now and then."""
        interval = self.config.verify_interval or 60.0
        while True:
            await asyncio.sleep(interval)
            watcher = self._watchers.get(managed.root)
            if watcher is not None and not watcher.alive:
                await asyncio.to_thread(watcher.stop)
                self._watch(managed)
            await self._apply(managed, FileChanges(rescan=True))

    async def apply_paths(self, path: str | Path, changed: list[str]) -> None:
        """Apply changes a caller knows of (tests, or a client's didSave) without waiting for the watcher."""
        managed = self.known(real_path(path)) or await self.project_for(path)
        if isinstance(managed, ManagedProject):
            await self._apply(managed, FileChanges(sources=set(changed)))

    async def _apply(self, managed: ManagedProject, changes: FileChanges) -> None:
        if changes.artifacts:
            stale = managed.stale_keys([w.key for w in self.pool.workers], changes.artifacts)
            if stale:
                self.pool.invalidate(lambda k: k in stale, prewarm=True)
        if changes.artifacts or changes.sources or changes.rescan:
            managed.lake_verdicts.clear()  # Lake's answers hold until a source or a build changes
        if changes.sources or changes.rescan:
            before = managed.snapshot.generation
            await self._updaters[managed.root].apply(FileChanges(sources=changes.sources, rescan=changes.rescan))
            stored = self._stored.get(managed.root)
            if stored is not None and managed.snapshot.generation != before:
                self._stored[managed.root] = (stored[0], True)

    async def view(self, path: str | Path) -> ProjectView | EngineError:
        """The snapshot queries about `path`'s project read now, and whether a change of its model
        is known and not in it yet (its project fingerprint is exact unless so)."""
        managed = await self.project_for(path)
        if isinstance(managed, EngineError):
            return managed
        return ProjectView(managed.snapshot, self._updaters[managed.root].changing())

    async def quiet(self, path: str | Path) -> ProjectSnapshot | EngineError:
        """Wait until `path`'s project has applied every change known and settled its plan."""
        managed = await self.project_for(path)
        return managed if isinstance(managed, EngineError) else await self._updaters[managed.root].quiet()

    async def _save(self, managed: ManagedProject) -> None:
        """Store the project's model and plan (a restart then opens them instead of computing
        them): the plan settled for the model as it is, under the model's lock."""
        key = self._stored[managed.root][0]
        async with managed.lock:
            snap = managed.snapshot
            if snap.plan_generation < snap.generation:
                snap = managed.install(await model_thread(settled, snap))
            saved = await model_thread(save_project, key, managed.project, managed.remembered(snap))
        if saved:
            self._stored[managed.root] = (key, False)

    async def close(self) -> None:
        await cancel_and_wait(*self._verifiers.values())
        for watcher in self._watchers.values():
            await asyncio.to_thread(watcher.stop)
        self._watchers.clear()
        for updater in self._updaters.values():
            await updater.close()

    async def save_changed(self) -> None:
        """Store what changed since it was last stored (the engine closes after its workers)."""
        if self._saving:
            await asyncio.gather(*self._saving, return_exceptions=True)
        for root, (_, changed) in list(self._stored.items()):
            managed = self.projects.get(root)
            if changed and managed is not None:
                await self._save(managed)
        self._stored.clear()
