"""The worker pool: warm REPL sessions keyed by session key, within limits, observable.

`lease(key)` gives exclusive use of a warm worker for `key`, starting one when
needed; leases on different keys run concurrently, and a hot key may get
several workers. Admission estimates a new worker's cost before spawning it
(from what that key, or a key with the same imports, cost before; else from
its closure size), evicts least-recently-used idle workers to make room, and
otherwise queues: a real FIFO queue with a timeout, visible in the snapshot.
Timeouts, crashes and cancellations kill the worker's process group, reap
it, return a typed failure and start a replacement in the background.

A worker's life from spawn to reaping is `lifecycle.py`'s; memory is held
within limits while workers run (`memory_policy.py`); this module admits.

Cancellation is an ordinary path at every stage. A lease cancelled while
queued leaves the queue. A worker's start (spawn and import) belongs to the
pool, not to the lease waiting for it: cancelled while its worker starts or
imports, the lease walks away and the start goes on as a prewarm would, so
the next request on that session finds the import done; until a lease claims
it, such a start is the first thing evicted when room is needed. Cancelled
while running, the worker is killed and replaced. Cancellations never count
as the worker's failures (no backoff, no restart limit).

Everything runs on one asyncio event loop, so state changes between awaits
need no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..plan.keys import RestartPolicy, SessionKey
from . import recycling
from .failures import FailureKind, LeaseRefused, WorkerFailure
from .history import SessionHistory
from .lease import Lease
from .lifecycle import WorkerLifecycle
from .memory_policy import MemoryPolicy
from .pool_config import PoolConfig, PoolSnapshot
from .pool_core import Waiter
from .worker import Worker, WorkerInfo, WorkerState

__all__ = ["Lease", "PoolConfig", "PoolSnapshot", "WorkerPool"]

LIVE = recycling.LIVE


class WorkerPool(WorkerLifecycle, MemoryPolicy):
    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig()
        self.workers: list[Worker] = []
        self._queue: deque[Waiter] = deque()
        self._estimates: dict[int, float] = {}
        self._policies: dict[str, RestartPolicy] = {}
        self.history = SessionHistory(self.config.estimate_base_mb, self.config.estimate_per_module_mb)
        self.counters: defaultdict[str, float] = defaultdict(float)
        self._init_memory()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._housekeeping: asyncio.Task[None] | None = None
        self._closed = False
        self._listeners: list[Callable[[WorkerInfo], None]] = []

    # -- public API ------------------------------------------------------------------

    def on_change(self, listener: Callable[[WorkerInfo], None]) -> None:
        """Called (on the loop) whenever a worker changes state; the daemon forwards it to editors."""
        self._listeners.append(listener)

    @contextlib.asynccontextmanager
    async def lease(
        self,
        key: SessionKey,
        policy: RestartPolicy | None = None,
        closure_size: int | None = None,
        expect_more: bool = True,
    ) -> AsyncIterator[Lease]:
        got = await self.acquire(key, policy, closure_size)
        if isinstance(got, WorkerFailure):
            raise LeaseRefused(got)
        got.expect_more = expect_more
        try:
            yield got
        finally:
            self.release(got)

    async def acquire(
        self, key: SessionKey, policy: RestartPolicy | None = None, closure_size: int | None = None
    ) -> Lease | WorkerFailure:
        self._remember(key, policy, closure_size)
        self._ensure_housekeeping()
        deadline = time.monotonic() + self.config.queue_timeout
        waiter: Waiter | None = None
        queued_at = 0.0
        try:
            while True:
                if self._closed:
                    return WorkerFailure(FailureKind.CLOSED, "the pool is closed", key_digest=key.digest)
                got = await self._try_acquire(key, self._is_head(waiter), waiter)
                if not isinstance(got, bool):
                    if waiter is not None:
                        self.counters["queue_wait_seconds"] += time.monotonic() - queued_at
                    return got
                if waiter is None:
                    waiter = Waiter(key)
                    self._queue.append(waiter)
                    self.counters["queue_waits"] += 1
                    queued_at = time.monotonic()
                waiter.needs_room = got
                remaining = deadline - time.monotonic()
                if remaining <= 0 and self._pressure:
                    self.counters["memory_pressure_refusals"] += 1
                    return WorkerFailure(
                        FailureKind.MEMORY_PRESSURE,
                        f"the machine stayed short of memory for {self.config.queue_timeout:g} s "
                        f"({self._machine_text()}); no new worker was started",
                        key_digest=key.digest,
                    )
                if remaining <= 0:
                    self.counters["queue_timeouts"] += 1
                    return WorkerFailure(
                        FailureKind.QUEUE_TIMEOUT,
                        f"no worker for this session within {self.config.queue_timeout:g} s "
                        f"({len(self._live())} workers busy or starting, {len(self._queue)} waiting)",
                        key_digest=key.digest,
                    )
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await waiter.wake.wait()
        finally:
            if waiter is not None and waiter in self._queue:
                self._queue.remove(waiter)
                self._wake()

    def release(self, lease: Lease) -> None:
        """Back from a lease: measured now (~0.4 ms), then warm again, or recycled with its spare."""
        w = lease.worker
        if w.state is not WorkerState.BUSY:
            return
        w.last_used = time.monotonic()
        w.expected_until = w.last_used + recycling.EXPECTED_SECONDS if lease.expect_more else 0.0
        if lease.expect_more:
            asyncio.get_running_loop().call_later(recycling.EXPECTED_SECONDS, self._wake)
        if w.lost_to is not None:  # stopped for memory just as its request ended
            self._lose(w, w.lost_to.kind)
            return
        self._measure(w)
        self._track_peak()
        self.history.grew(w.key, w.expected_growth_mb())
        reason = self._retire_reason(w)
        if reason == "memory-budget" and lease.expect_more:
            self._hold(w)  # the budget may have room again soon: a wait is cheaper than an import
        elif reason is not None:
            self._recycle(w, reason, lease.expect_more)
        else:
            self._set_state(w, WorkerState.WARM)
            if lease.expect_more and self._coming_recycle(w) is not None:
                self._start_spare(w)  # it serves one more request while the spare imports
        self._wake()

    def prewarm(self, key: SessionKey, policy: RestartPolicy | None = None, closure_size: int | None = None) -> bool:
        """Start a worker for `key` in the background (no lease held); False when one is there already
        or there is no room without queueing (prewarming never waits)."""
        self._remember(key, policy, closure_size)
        self._ensure_housekeeping()
        if self._closed or any(w.key == key and not w.stale for w in self._live()):
            return False
        if self._pressure or self._restart_refusal(key) is not None or not self._make_room(key):
            self.counters["prewarms_skipped"] += 1
            return False
        self.counters["prewarms"] += 1
        self._start_in_background(self._new_worker(key, None))
        return True

    def invalidate(self, predicate: Callable[[SessionKey], bool], prewarm: bool = False) -> int:
        """Mark matching workers stale: idle ones retire now, busy ones after their request."""
        hit = [w for w in self._live() if not w.stale and predicate(w.key)]
        for w in hit:
            w.stale = True
            if w.state is WorkerState.WARM:
                self._retire(w, "stale")
            else:
                self._notify(w)
        if prewarm:
            for key in {w.key for w in hit}:
                self.prewarm(key)
        return len(hit)

    async def evict(self, predicate: Callable[[SessionKey], bool]) -> int:
        """Stop matching workers: idle ones at once, busy ones after their request."""
        hit = [w for w in self._live() if predicate(w.key)]
        for w in hit:
            if w.state is WorkerState.BUSY:
                w.stale = True
            else:
                self._retire(w, "explicit")
        await self._settle()
        return len(hit)

    async def __aenter__(self) -> WorkerPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop everything and reap every process: no worker outlives the pool."""
        self._closed = True
        self._wake()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for w in list(self.workers):
            if w.process is not None and w.process.alive:
                w.process.signal_group()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for w in list(self.workers):
            if w.process is not None:
                await w.process.kill()
            self._set_state(w, WorkerState.DEAD)
        self.workers.clear()

    def snapshot(self) -> PoolSnapshot:
        return PoolSnapshot(
            workers=tuple(w.info() for w in self.workers),
            queue_depth=len(self._queue),
            charged_mb=self._charged(),
            budget_mb=self.config.memory.budget_mb,
            counters=dict(self.counters),
            import_seconds=dict(self.history.import_seconds),
            peak_charged_mb=self.peak_charged_mb,
            recycles=dict(self.recycles),
            limits=self.config.memory,
            machine=self._machine,
            pressure=self._pressure,
        )

    # -- admission -------------------------------------------------------------------

    def _live(self) -> list[Worker]:
        return [w for w in self.workers if w.state in LIVE]

    def _is_head(self, waiter: Waiter | None) -> bool:
        """May this (new, if None) waiter take room? Only when no one ahead of it waits for room."""
        for ahead in self._queue:
            if ahead is waiter:
                return True
            if ahead.needs_room:
                return False
        return True

    async def _try_acquire(self, key: SessionKey, head: bool, waiter: Waiter | None) -> Lease | WorkerFailure | bool:
        """A lease, a refusal, or whether to wait for room (True) or for a worker of `key` (False)."""
        held = False
        for w in sorted(self._live(), key=lambda w: -w.last_used):
            if w.key == key and w.state is WorkerState.WARM and not w.stale:
                if w.held_since is not None and not self._room_for_held(w):
                    held = True
                    continue
                self._set_state(w, WorkerState.BUSY)
                self.counters["reuses"] += 1
                return Lease(self, w)
        if held:
            return False
        refusal = self._restart_refusal(key)
        if refusal is not None:
            return refusal
        estimate = self.history.estimate(key)
        limits = self.config.memory
        for limit, what in ((limits.budget_mb, "the whole budget"), (limits.worker_hard_mb, "the hard ceiling")):
            if limit is not None and estimate > limit:
                self.counters["memory_refusals"] += 1
                return WorkerFailure(
                    FailureKind.MEMORY_REFUSED,
                    f"a worker for this session is estimated at {estimate:.0f} MB, above {what} of "
                    f"{limit:.0f} MB (see --memory-budget and --worker-max-mb)",
                    key_digest=key.digest,
                )
        same = [w for w in self._live() if w.key == key and not w.stale and w.recycle_reason is None]
        if same and len(same) >= self.config.max_workers_per_key:
            return False  # wait for one of them
        backoff = self.history.backoff(key, self.config.backoff_base, self.config.backoff_max)
        if backoff > 0:  # workers of this session failed just now: look again later
            asyncio.get_running_loop().call_later(backoff, self._wake)
            return True
        if self._short_of_memory() or not head or not self._make_room(key, for_lease=True):
            return True
        if waiter is not None:
            waiter.needs_room = False  # it has its room: no longer in the way of those behind it
        worker = self._new_worker(key, None)
        worker.claimed = True
        start = self._start_in_background(worker)
        try:
            failure = await asyncio.shield(start)
        except asyncio.CancelledError:
            self._abandon(worker)
            raise
        if failure is not None:
            return failure
        self.counters["spawns_leased"] += 1
        return Lease(self, worker)

    def _abandon(self, worker: Worker) -> None:
        """The lease waiting for `worker`'s start was cancelled: the start goes on unclaimed,
        as a prewarm would, and the worker joins the idle ones once warm."""
        worker.claimed = False
        self.counters["starts_abandoned"] += 1
        if worker.state is WorkerState.BUSY:  # warm already, handed to the lease that just left
            worker.last_used = time.monotonic()
            self._set_state(worker, WorkerState.WARM)
            self._wake()

    def _make_room(self, key: SessionKey, for_lease: bool = False, spare_of: Worker | None = None) -> bool:
        """Is there room for one more worker for `key`? Evicts LRU idle workers if needed and,
        for a lease, starts that no lease waits for (prewarms, spares, abandoned starts)."""
        estimate = self.history.estimate(key) + (self.history.growth(key) if for_lease else 0.0)
        while not self._fits(estimate, spare_of):
            now = time.monotonic()
            victims = [
                w
                for w in recycling.shed_order(self._live(), now, self._wanted())
                if w is not spare_of and (recycling.idle(w, now) or for_lease)
            ]
            if not victims:
                return False
            idle = victims[0].state is WorkerState.WARM
            self.counters["evictions_lru" if idle else "evictions_unclaimed_start"] += 1
            self._retire(victims[0], "evicted (lru)" if idle else "evicted (unclaimed start)", kill=True)
        return True

    def _fits(self, estimate: float, spare_of: Worker | None = None) -> bool:
        """A slot and the budget for `estimate` more. A worker with a spare warming counts with its
        spare as one slot (the spare takes its place); a spare must fit beside it in memory."""
        live = self._live()
        replaced = {id(w) for w in live if w.spare is not None and w.spare.state in LIVE}
        if spare_of is not None:
            replaced.add(id(spare_of))
        if len([w for w in live if id(w) not in replaced]) >= self.config.max_workers:
            return False
        budget = self.config.memory.planned_mb
        return budget is None or self._committed() + estimate <= budget

    def _remember(self, key: SessionKey, policy: RestartPolicy | None, closure_size: int | None) -> None:
        if policy is not None:
            self._policies[key.full_digest] = policy
        if closure_size is not None:
            self.history.closure(key, closure_size)

    def _policy(self, key: SessionKey) -> RestartPolicy:
        return self._policies.get(key.full_digest, RestartPolicy(max_restarts=self.config.restart_limit))

    def _restart_refusal(self, key: SessionKey) -> WorkerFailure | None:
        policy = self._policy(key)
        window = min(policy.restart_window_seconds, self.config.restart_window)
        failed = self.history.recent_failures(key, window)
        if failed >= min(policy.max_restarts, self.config.restart_limit):
            return WorkerFailure(
                FailureKind.RESTART_LIMIT,
                f"workers for this session failed {failed} times in {window:g} s; not restarting for now",
                key_digest=key.digest,
            )
        return None

    def _wake(self) -> None:
        for waiter in self._queue:
            waiter.wake.set()
