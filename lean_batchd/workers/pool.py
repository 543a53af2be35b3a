"""The worker pool: warm REPL sessions keyed by session key, within limits, observable.

`lease(key)` gives exclusive use of a warm worker for `key`, starting one when
needed; leases on different keys run concurrently, and a hot key may get
several workers. Admission estimates a new worker's cost before spawning it
(from what that key, or a key with the same imports, cost before; else from
its closure size), evicts least-recently-used idle workers to make room, and
otherwise queues: a real FIFO queue with a timeout, visible in the snapshot.
Timeouts, crashes and cancellations kill the worker's process group, reap
it, return a typed failure and start a replacement in the background.

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
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..plan.keys import RestartPolicy, SessionKey
from .failures import FailureKind, LeaseRefused, WorkerFailure
from .memory import measure_tree
from .protocol import Command, Reply, Request
from .worker import Worker, WorkerInfo, WorkerState

T = TypeVar("T")
LIVE = (WorkerState.STARTING, WorkerState.IMPORTING, WorkerState.WARM, WorkerState.BUSY)
STARTING = (WorkerState.STARTING, WorkerState.IMPORTING)
WORKER_FAULTS = frozenset(
    {FailureKind.CRASH, FailureKind.TIMEOUT, FailureKind.PROTOCOL, FailureKind.IMPORT_FAILED, FailureKind.SPAWN_FAILED}
)
"""Failures that say something about the session's workers (and so count towards backoff and the
restart limit); a cancellation or a stop the pool itself decided says nothing about them."""


@dataclass(frozen=True, slots=True)
class PoolConfig:
    max_workers: int = 4
    max_workers_per_key: int = 1
    memory_budget_mb: float | None = None
    """Charged memory (private + swap of each worker's process tree) the pool stays within."""
    worker_ceiling_mb: float | None = None
    idle_ttl: float | None = 600.0
    max_requests: int | None = None
    max_age: float | None = None
    request_timeout: float | None = 120.0
    import_timeout: float | None = 600.0
    queue_timeout: float = 60.0
    restart_limit: int = 16
    restart_window: float = 60.0
    backoff_base: float = 0.25
    backoff_max: float = 10.0
    housekeeping_interval: float = 1.0
    estimate_base_mb: float = 64.0
    estimate_per_module_mb: float = 1.0


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    workers: tuple[WorkerInfo, ...]
    queue_depth: int
    charged_mb: float
    budget_mb: float | None
    counters: dict[str, float]
    import_seconds: dict[str, float]
    """Last import time per session key digest."""

    def to_json(self) -> dict[str, object]:
        return {
            "workers": [w.to_json() for w in self.workers],
            "queueDepth": self.queue_depth,
            "chargedMb": round(self.charged_mb, 1),
            "budgetMb": self.budget_mb,
            "counters": dict(self.counters),
            "importSeconds": {k: round(v, 3) for k, v in self.import_seconds.items()},
        }


@dataclass(slots=True)
class _Waiter:
    key: SessionKey
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Lease:
    """Exclusive use of one warm worker; every command runs against the session's import."""

    def __init__(self, pool: WorkerPool, worker: Worker) -> None:
        self._pool = pool
        self.worker = worker
        self.lost: WorkerFailure | None = None

    @property
    def key(self) -> SessionKey:
        return self.worker.key

    async def run(self, request: Request | str, timeout: float | None = None) -> Reply | WorkerFailure:
        if self.lost is not None:
            return self.lost
        if isinstance(request, str):
            request = Command(request)
        limit = timeout if timeout is not None else self._pool.config.request_timeout
        try:
            reply = await self.worker.run(request, limit)
        except asyncio.CancelledError:
            self.lost = WorkerFailure(FailureKind.CANCELLED, "the request was cancelled", key_digest=self.key.digest)
            self._pool._lose(self.worker, FailureKind.CANCELLED)
            raise
        if isinstance(reply, WorkerFailure):
            if reply.kind is FailureKind.INVALID_REQUEST:
                return reply
            self.lost = WorkerFailure(reply.kind, reply.message, reply.stderr, self.key.digest)
            self._pool._lose(self.worker, reply.kind)
            return self.lost
        return reply


class WorkerPool:
    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig()
        self.workers: list[Worker] = []
        self._queue: deque[_Waiter] = deque()
        self._costs: dict[str, float] = {}
        self._costs_by_imports: dict[str, float] = {}
        self._estimates: dict[int, float] = {}
        self._failures: dict[str, deque[float]] = {}
        self._consecutive: Counter[str] = Counter()
        self._policies: dict[str, RestartPolicy] = {}
        self._closures: dict[str, int] = {}
        self._import_seconds: dict[str, float] = {}
        self.counters: defaultdict[str, float] = defaultdict(float)
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
        self, key: SessionKey, policy: RestartPolicy | None = None, closure_size: int | None = None
    ) -> AsyncIterator[Lease]:
        got = await self.acquire(key, policy, closure_size)
        if isinstance(got, WorkerFailure):
            raise LeaseRefused(got)
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
        waiter: _Waiter | None = None
        queued_at = 0.0
        try:
            while True:
                if self._closed:
                    return WorkerFailure(FailureKind.CLOSED, "the pool is closed", key_digest=key.digest)
                head = (waiter is None and not self._queue) or self._is_head(waiter)
                got = await self._try_acquire(key, head)
                if got is not None:
                    if waiter is not None:
                        self.counters["queue_wait_seconds"] += time.monotonic() - queued_at
                    return got
                if waiter is None:
                    waiter = _Waiter(key)
                    self._queue.append(waiter)
                    self.counters["queue_waits"] += 1
                    queued_at = time.monotonic()
                remaining = deadline - time.monotonic()
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
                    await asyncio.wait_for(waiter.wake.wait(), remaining)
        finally:
            if waiter is not None and waiter in self._queue:
                self._queue.remove(waiter)
                self._wake()

    def release(self, lease: Lease) -> None:
        w = lease.worker
        if w.state is not WorkerState.BUSY:
            return
        w.last_used = time.monotonic()
        reason = self._retire_reason(w)
        if reason is not None:
            self._retire(w, reason)
        else:
            self._set_state(w, WorkerState.WARM)
        self._wake()

    def prewarm(self, key: SessionKey, policy: RestartPolicy | None = None, closure_size: int | None = None) -> bool:
        """Start a worker for `key` in the background (no lease held); False when one is there already
        or there is no room without queueing (prewarming never waits)."""
        self._remember(key, policy, closure_size)
        self._ensure_housekeeping()
        if self._closed or any(w.key == key and not w.stale for w in self._live()):
            return False
        if self._restart_refusal(key) is not None or not self._make_room(key):
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
            budget_mb=self.config.memory_budget_mb,
            counters=dict(self.counters),
            import_seconds=dict(self._import_seconds),
        )

    # -- admission -------------------------------------------------------------------

    def _live(self) -> list[Worker]:
        return [w for w in self.workers if w.state in LIVE]

    def _is_head(self, waiter: _Waiter | None) -> bool:
        return waiter is not None and bool(self._queue) and self._queue[0] is waiter

    async def _try_acquire(self, key: SessionKey, head: bool) -> Lease | WorkerFailure | None:
        for w in sorted(self._live(), key=lambda w: -w.last_used):
            if w.key == key and w.state is WorkerState.WARM and not w.stale:
                self._set_state(w, WorkerState.BUSY)
                self.counters["reuses"] += 1
                return Lease(self, w)
        refusal = self._restart_refusal(key)
        if refusal is not None:
            return refusal
        estimate = self._estimate(key)
        budget = self.config.memory_budget_mb
        if budget is not None and estimate > budget:
            self.counters["memory_refusals"] += 1
            return WorkerFailure(
                FailureKind.MEMORY_REFUSED,
                f"a worker for this session is estimated at {estimate:.0f} MB, "
                f"above the whole budget of {budget:.0f} MB",
                key_digest=key.digest,
            )
        same = [w for w in self._live() if w.key == key and not w.stale]
        if same and len(same) >= self.config.max_workers_per_key:
            return None  # wait for one of them
        if not head or not self._make_room(key, for_lease=True):
            return None
        await self._backoff(key)
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

    def _make_room(self, key: SessionKey, for_lease: bool = False) -> bool:
        """Is there room for one more worker for `key`? Evicts LRU idle workers if needed and,
        for a lease, starts that no lease waits for (prewarms, abandoned starts), newest first."""
        estimate = self._estimate(key)
        while not self._fits(estimate):
            idle = [w for w in self._live() if w.state is WorkerState.WARM]
            unclaimed = [w for w in self._live() if w.state in STARTING and not w.claimed] if for_lease else []
            if idle:
                self.counters["evictions_lru"] += 1
                self._retire(min(idle, key=lambda w: w.last_used), "evicted (lru)")
            elif unclaimed:
                self.counters["evictions_unclaimed_start"] += 1
                self._retire(max(unclaimed, key=lambda w: w.created), "evicted (unclaimed start)")
            else:
                return False
        return True

    def _fits(self, estimate: float) -> bool:
        if len(self._live()) >= self.config.max_workers:
            return False
        budget = self.config.memory_budget_mb
        return budget is None or self._charged() + estimate <= budget

    def _charged(self) -> float:
        total = 0.0
        for w in self._live():
            measured = w.memory.charge_mb
            total += (
                measured
                if w.state in (WorkerState.WARM, WorkerState.BUSY) and measured
                else max(measured, self._estimates.get(w.id, 0.0))
            )
        return total

    def _estimate(self, key: SessionKey) -> float:
        if key.full_digest in self._costs:
            return self._costs[key.full_digest]
        imports = key.header_text()
        if imports in self._costs_by_imports:
            return self._costs_by_imports[imports]
        c = self.config
        size = self._closures.get(key.full_digest, len(key.imports))
        return c.estimate_base_mb + c.estimate_per_module_mb * size

    def _remember(self, key: SessionKey, policy: RestartPolicy | None, closure_size: int | None) -> None:
        if policy is not None:
            self._policies[key.full_digest] = policy
        if closure_size is not None:
            self._closures[key.full_digest] = closure_size

    def _policy(self, key: SessionKey) -> RestartPolicy:
        return self._policies.get(key.full_digest, RestartPolicy(max_restarts=self.config.restart_limit))

    def _restart_refusal(self, key: SessionKey) -> WorkerFailure | None:
        policy = self._policy(key)
        window = min(policy.restart_window_seconds, self.config.restart_window)
        recent = self._failures.get(key.full_digest)
        if recent is None:
            return None
        now = time.monotonic()
        while recent and now - recent[0] > window:
            recent.popleft()
        limit = min(policy.max_restarts, self.config.restart_limit)
        if len(recent) >= limit:
            return WorkerFailure(
                FailureKind.RESTART_LIMIT,
                f"workers for this session failed {len(recent)} times in {window:g} s; not restarting for now",
                key_digest=key.digest,
            )
        return None

    async def _backoff(self, key: SessionKey) -> None:
        n = self._consecutive[key.full_digest]
        if n:
            await asyncio.sleep(min(self.config.backoff_base * 2 ** (n - 1), self.config.backoff_max))

    # -- lifecycle -------------------------------------------------------------------

    def _new_worker(self, key: SessionKey, reason: str | None) -> Worker:
        worker = Worker(key, reason, self._notify)
        self._estimates[worker.id] = self._estimate(key)
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
            failure = await worker.start(self.config.import_timeout)
        except asyncio.CancelledError:
            failure = WorkerFailure(FailureKind.CLOSED, "the worker was stopped while it started")
        if failure is None and (self._closed or worker.state is not WorkerState.IMPORTING):
            failure = WorkerFailure(FailureKind.CLOSED, "the worker was stopped while it started")
        if failure is not None:
            if failure.kind in WORKER_FAULTS:
                self._record_failure(key, failure.kind)
            if worker.process is not None:
                await worker.process.kill()
            self._set_state(worker, WorkerState.DEAD)
            self.workers.remove(worker) if worker in self.workers else None
            self._wake()
            return WorkerFailure(failure.kind, failure.message, failure.stderr, key.digest)
        self._consecutive[key.full_digest] = 0
        self.counters["spawns"] += 1
        self._import_seconds[key.digest] = worker.import_seconds or 0.0
        self._measure(worker)
        self._costs[key.full_digest] = worker.memory.charge_mb
        self._costs_by_imports[key.header_text()] = worker.memory.charge_mb
        if worker.claimed:
            self._set_state(worker, WorkerState.BUSY)
        else:
            self._set_state(worker, WorkerState.WARM)
            self._wake()
        return None

    def _record_failure(self, key: SessionKey, kind: FailureKind) -> None:
        self._failures.setdefault(key.full_digest, deque()).append(time.monotonic())
        self._consecutive[key.full_digest] += 1
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
        if not self._closed and self._restart_refusal(worker.key) is None:
            replacement_reason = f"replacing a worker lost to {kind}"
            if self._make_room(worker.key):
                self._start_in_background(self._new_worker(worker.key, replacement_reason))

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
        """Why a worker coming back from a lease should retire. Memory is the last sample
        (housekeeping measures every interval): measuring a process tree costs ~1 ms."""
        c = self.config
        policy = self._policy(w.key)
        max_requests = policy.max_requests or c.max_requests
        if w.stale:
            return "stale"
        if max_requests is not None and w.requests >= max_requests:
            return "max-requests"
        if c.max_age is not None and time.monotonic() - w.created >= c.max_age:
            return "max-age"
        ceiling = policy.max_rss_mb or c.worker_ceiling_mb
        if ceiling is not None and w.memory.charge_mb > ceiling:
            return "memory-ceiling"
        return None

    def _measure(self, worker: Worker) -> None:
        if worker.process is not None and worker.process.alive:
            worker.memory = measure_tree(worker.process.pid)

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

    def _wake(self) -> None:
        for waiter in self._queue:
            waiter.wake.set()

    def _ensure_housekeeping(self) -> None:
        if self._housekeeping is None or self._housekeeping.done():
            self._housekeeping = asyncio.get_running_loop().create_task(self._keep_house(), name="pool-housekeeping")

    async def _keep_house(self) -> None:
        """Sample memory, reap idle workers past their TTL, retire idle ones over the ceiling."""
        c = self.config
        while not self._closed:
            await asyncio.sleep(c.housekeeping_interval)
            now = time.monotonic()
            for w in self._live():
                self._measure(w)
                if w.state is not WorkerState.WARM:
                    continue
                ttl = self._policy(w.key).idle_seconds or c.idle_ttl
                if ttl is not None and now - w.last_used > ttl:
                    self._retire(w, "idle")
                elif (
                    ceiling := self._policy(w.key).max_rss_mb or c.worker_ceiling_mb
                ) and w.memory.charge_mb > ceiling:
                    self._retire(w, "memory-ceiling")
                elif w.process is not None and not w.process.alive:
                    self.counters["crashes"] += 1
                    self._record_failure(w.key, FailureKind.CRASH)
                    self._retire(w, "crash", kill=True)
