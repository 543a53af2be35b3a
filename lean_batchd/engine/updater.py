"""Keeping one project current: the one writer of its model and of its snapshots.

Changes that arrive while an update runs wait in one slot, merged (as
rust-analyzer's `OpQueue`), so a storm costs a few updates, not one per event.
An update holds the model's lock while it changes the model and builds the
next snapshot's structure (`revision.announced`) in a thread; the loop then
installs that snapshot and announces the plan change at once; then the
diagnostics are brought up to date, and only the files whose diagnostics
changed are announced. The plan's fingerprints are derived from the snapshot
alone (`revision.settled`), in a thread, beside later updates, and always for
the newest snapshot: on demand (a `plan` request), or once the project has
been quiet for `SETTLE_AFTER` seconds. While edits keep coming, no CPU goes
to fingerprints nobody asked for, and the plan then catches up with all the
edits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ..workers.shielding import cancel_and_wait, run_to_end
from .managed import ManagedProject, model_thread
from .news import PlanNews
from .revision import announced, diagnosed, settled
from .snapshot import FileDiagnostics, ProjectSnapshot
from .watch import FileChanges

log = logging.getLogger(__name__)
SETTLE_AFTER = 1.0


class ProjectUpdater:
    def __init__(
        self,
        managed: ManagedProject,
        announce: Callable[[PlanNews], None],
        diagnose: Callable[[dict[str, FileDiagnostics]], None],
    ) -> None:
        self.managed = managed
        self._announce = announce
        self._diagnose = diagnose
        self.waiting: Callable[[], bool] = lambda: False
        """Does the watcher hold changes back (its debounce window)? Set by whoever watches."""
        self._queued: FileChanges | None = None
        self._queued_done: asyncio.Future[None] | None = None
        self._running: asyncio.Task[None] | None = None
        self._settling: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._failed = 0
        """A generation whose plan failed to settle (a bug): not tried again until the next."""
        self.updates = 0
        """Model updates run (a storm's events coalesce into a few)."""

    def changing(self) -> bool:
        """Is a change of the model known and not applied yet (held for debounce, waiting, running)?"""
        return self.waiting() or self._queued is not None or self._running is not None

    def pending(self) -> bool:
        """`changing`, or the snapshot's derived data (the plan's fingerprints, closure sizes)
        behind its model."""
        return self.changing() or not self.managed.snapshot.settled

    async def apply(self, changes: FileChanges) -> None:
        """Apply source changes (or a rescan); returns once an update that includes them has
        landed (the plan's fingerprints may still be settling)."""
        loop = asyncio.get_running_loop()
        if self._queued is None or self._queued_done is None:
            self._queued, self._queued_done = FileChanges(), loop.create_future()
        self._queued.sources |= changes.sources
        self._queued.rescan |= changes.rescan
        done = self._queued_done
        if self._running is None:
            self._running = loop.create_task(self._run(), name=f"update {self.managed.root}")
        await asyncio.shield(done)

    async def _run(self) -> None:
        try:
            while self._queued is not None and self._queued_done is not None:
                changes, done = self._queued, self._queued_done
                self._queued = self._queued_done = None
                try:
                    await self._update(changes)
                except Exception:  # a bug: the last snapshot keeps serving
                    log.exception("updating %s failed", self.managed.root)
                finally:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._running = None
            if self._queued_done is not None and not self._queued_done.done():
                self._queued_done.set_result(None)
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(SETTLE_AFTER, self._settle_when_quiet)

    async def _update(self, changes: FileChanges) -> None:
        managed = self.managed
        started = time.monotonic()
        async with managed.lock:
            changed = await model_thread(self._changed, changes)
            self.updates += 1
            if changed is None:
                return
            news, snap = changed
            managed.install(snap)
            if not news.empty:
                self._announce(news)
            announced_at = time.monotonic()
            found, snap = await model_thread(diagnosed, managed.project, managed.snapshot)
            managed.install(snap)
        if found:
            self._diagnose(found)
        log.debug(
            "generation %d: %s, announced after %.0f ms, diagnostics (%d files changed) after %.0f ms",
            snap.generation, "a rescan" if changes.rescan else f"{len(changes.sources)} paths",
            (announced_at - started) * 1000, len(found), (time.monotonic() - started) * 1000,
        )  # fmt: skip

    def _changed(self, changes: FileChanges) -> tuple[PlanNews, ProjectSnapshot] | None:
        """In the update's thread, lock held: the model change and the next snapshot (installed by
        the loop, where every install happens)."""
        project = self.managed.project
        change = project.rescan() if changes.rescan else project.update(sorted(changes.sources))
        return None if change.empty else announced(project, self.managed.snapshot, change)

    def _settle_when_quiet(self) -> None:
        """Settle in the background, unless the model is changing again (its update goes first)."""
        self._idle = None
        if not self.changing():
            self._settle_soon()

    def _settle_soon(self) -> asyncio.Task[None] | None:
        snap = self.managed.snapshot
        if self._settling is None and snap.plan_generation < snap.generation != self._failed:
            self._settling = asyncio.get_running_loop().create_task(self._settle(), name=f"settle {snap.root}")
        return self._settling

    async def settle(self) -> ProjectSnapshot:
        """The snapshot with its plan settled for the newest generation there was when asked (or a
        later one): a derived value computed on demand, from snapshots, never waiting for the model."""
        wanted = self.managed.snapshot.generation
        while (task := self._settle_soon()) is not None and self.managed.snapshot.plan_generation < wanted:
            await asyncio.shield(task)
        return self.managed.snapshot

    async def _settle(self) -> None:
        try:
            while (snap := self.managed.snapshot).plan_generation < snap.generation:
                started = time.monotonic()
                self.managed.install(await run_to_end(asyncio.to_thread(settled, snap)))
                log.debug(
                    "plan settled for generation %d in %.0f ms", snap.generation, (time.monotonic() - started) * 1000
                )
        except Exception:  # a bug: the plan stays as it was, and says pending
            self._failed = self.managed.snapshot.generation
            log.exception("settling the plan of %s failed", self.managed.root)
        finally:
            self._settling = None

    async def quiet(self) -> ProjectSnapshot:
        """Wait until everything known has landed: no change waiting, the plan settled."""
        while True:
            task = self._running or self._settling
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)
                continue
            if self.waiting():
                await asyncio.sleep(0.02)
                continue
            snap = self.managed.snapshot
            if snap.plan_generation == snap.generation or self._settle_soon() is None:
                return snap

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        await cancel_and_wait(*(t for t in (self._running, self._settling) if t is not None))
