"""A worker's life in the pool: spawned and importing, warm, busy, lost to a fault, retired,
reaped. Starts belong to the pool, not to the lease waiting for one (a cancelled lease walks
away and the start goes on); a worker lost to a crash, timeout or memory is killed with its
process group, reaped, and replaced by a spare; housekeeping measures workers and reaps those
idle too long or dead. Admission (`pool.py`) decides which worker a lease gets; this part
only brings workers into being and out of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..plan.keys import SessionKey
from . import recycling
from .failures import FailureKind, WorkerFailure
from .memory import NOTHING, measure_tree
from .pool_core import PoolCore
from .worker import Worker, WorkerState

T = TypeVar("T")
STARTING = recycling.STARTING
WORKER_FAULTS = frozenset(
    {FailureKind.CRASH, FailureKind.TIMEOUT, FailureKind.PROTOCOL, FailureKind.IMPORT_FAILED, FailureKind.SPAWN_FAILED}
)
"""Failures that say something about the session's workers (and so count towards backoff and the
restart limit); a cancellation or a stop the pool itself decided says nothing about them."""


class WorkerLifecycle(PoolCore):
    def _new_worker(self, key: SessionKey, reason: str | None) -> Worker:
        worker = Worker(key, reason, self._notify)
        self._estimates[worker.id] = self.history.estimate(key)
        worker.prior_growth_mb = self.history.growth(key)
        self.workers.append(worker)
        self._notify(worker)
        return worker

    def _start_in_background(self, worker: Worker) -> asyncio.Task[WorkerFailure | None]:
        """Starts belong to the pool: a lease waits for one (shielded) and may walk away."""
        task = self._spawn_task(self._start(worker), f"start-{worker.key.digest}")
        task.add_done_callback(lambda t: self._forget_unstarted(worker) if t.cancelled() else None)
        worker.starting = task
        return task

    def _forget_unstarted(self, worker: Worker) -> None:
        """A start cancelled before it ran (its cleanup never ran either): nothing was spawned."""
        self._set_state(worker, WorkerState.DEAD)
        if worker in self.workers:
            self.workers.remove(worker)
        self._wake()

    async def _start(self, worker: Worker) -> WorkerFailure | None:
        """Spawn and import; ends with the worker warm (BUSY when a lease claims it) or gone.
        Never raises: a start stopped by eviction or by closing the pool is a CLOSED failure."""
        key = worker.key
        try:
            failure = await worker.start(self.config.import_timeout, self.config.memory.address_space_mb)
        except asyncio.CancelledError:
            failure = WorkerFailure(FailureKind.CLOSED, "the worker was stopped while it started")
        if failure is None and (self._closed or worker.state is not WorkerState.IMPORTING):
            failure = WorkerFailure(FailureKind.CLOSED, "the worker was stopped while it started")
        if failure is not None:
            failure = worker.lost_to or failure
            if failure.kind in WORKER_FAULTS or failure.kind is FailureKind.MEMORY:  # an import too big
                self._record_failure(key, failure.kind)
            if failure.kind is FailureKind.MEMORY:
                self._count_recycle(worker, worker.recycle_reason or "out-of-memory")
            if worker.process is not None:
                await worker.process.kill()
            self._set_state(worker, WorkerState.DEAD)
            self.workers.remove(worker) if worker in self.workers else None
            self._wake()
            return WorkerFailure(failure.kind, failure.message, failure.stderr, key.digest)
        self.counters["spawns"] += 1
        self._measure(worker)
        worker.import_mb = worker.memory.charge_mb
        worker.recycles = self.history.recycled[key.full_digest]
        self.history.imported(key, worker.memory.charge_mb, worker.import_seconds or 0.0)
        if worker.claimed:
            self._set_state(worker, WorkerState.BUSY)
        else:
            self._set_state(worker, WorkerState.WARM)
            self._wake()
        return None

    def _record_failure(self, key: SessionKey, kind: FailureKind) -> None:
        self.history.failed(key)
        self.counters[f"failures_{kind}"] += 1

    def _lose(self, worker: Worker, kind: FailureKind) -> None:
        """A request failed in a way that leaves the worker unusable: kill, reap, replace."""
        self.counters[f"restarts_{kind}"] += 1
        if kind is FailureKind.TIMEOUT:
            self.counters["timeouts"] += 1
        elif kind is FailureKind.CRASH:
            self.counters["crashes"] += 1
        if kind in WORKER_FAULTS:
            self._record_failure(worker.key, kind)
        self._retire(worker, str(kind), kill=True)
        if kind is FailureKind.MEMORY:
            self._count_recycle(worker, worker.recycle_reason or "out-of-memory")
        self._start_spare(worker, f"replacing a worker lost to {kind}")

    def _retire(self, worker: Worker, reason: str, kill: bool = False) -> None:
        starting = worker.state in STARTING
        self._set_state(worker, WorkerState.RETIRING)
        worker.restart_reason = reason
        self.counters[f"retired_{reason.split(' ')[0]}"] += 1
        if starting and worker.starting is not None:
            worker.starting.cancel()  # `_start` kills what it spawned and forgets the worker
            self._wake()
            return

        async def stop() -> None:
            if worker.process is not None:
                if kill:
                    await worker.process.kill()
                else:
                    await worker.process.close(grace=0.5)
            self._set_state(worker, WorkerState.DEAD)
            if worker in self.workers:
                self.workers.remove(worker)
            self._wake()

        self._spawn_task(stop(), f"retire-{worker.id}")
        self._wake()

    def _retire_reason(self, w: Worker) -> str | None:
        """Why a worker coming back from a lease should not take another request."""
        if w.stale:
            return "stale"
        if w.recycle_reason is not None:
            return w.recycle_reason
        return self._own_limit(w) or self._memory_reason(w)

    def _own_limit(self, w: Worker, ahead: int = 0) -> str | None:
        """Its request count or age, after `ahead` more requests."""
        c = self.config
        max_requests = self._policy(w.key).max_requests or c.max_requests
        if max_requests is not None and w.requests + ahead >= max_requests:
            return "max-requests"
        if c.max_age is not None and time.monotonic() - w.created >= c.max_age:
            return "max-age"
        return None

    def _measure(self, worker: Worker) -> None:
        if worker.process is not None:
            worker.memory = measure_tree(worker.process.pid) if worker.process.alive else NOTHING

    async def _settle(self) -> None:
        """Wait for background stops to finish (used by explicit eviction)."""
        pending = [t for t in self._tasks if t.get_name().startswith("retire-")]
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn_task(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _set_state(self, worker: Worker, state: WorkerState) -> None:
        worker.set_state(state)

    def _notify(self, worker: Worker) -> None:
        if self._listeners:
            info = worker.info()
            for listener in self._listeners:
                listener(info)

    def _ensure_housekeeping(self) -> None:
        if self._housekeeping is None or self._housekeeping.done():
            self._housekeeping = asyncio.get_running_loop().create_task(self._keep_house(), name="pool-housekeeping")

    async def _keep_house(self) -> None:
        """Every `sample_interval`: measure busy and starting workers and hold the memory limits;
        every `housekeeping_interval`: measure idle ones, reap those idle too long, notice deaths."""
        c = self.config
        interval = min(c.memory.sample_interval, c.housekeeping_interval)
        last_round = time.monotonic()
        while not self._closed:
            await asyncio.sleep(interval)
            now = time.monotonic()
            full_round = now - last_round >= c.housekeeping_interval - interval / 2
            if full_round:
                last_round = now
            for w in self._holding():
                if full_round or w.state is not WorkerState.WARM:
                    self._measure(w)
            self._track_peak()
            self._hold_limits()
            if full_round:
                self._reap_idle(now)

    def _reap_idle(self, now: float) -> None:
        c = self.config
        for w in self._live():
            if w.state is not WorkerState.WARM:
                continue
            ttl = self._policy(w.key).idle_seconds or c.idle_ttl
            if ttl is not None and now - w.last_used > ttl:
                self._retire(w, "idle")
            elif w.process is not None and not w.process.alive:
                self.counters["crashes"] += 1
                self._record_failure(w.key, FailureKind.CRASH)
                self._retire(w, "crash", kill=True)
