"""Memory decisions about workers: who is recycled after its request, who is stopped, who goes first.

Plain functions over the pool's workers and `MemoryLimits`: no processes, no
waiting. The pool measures (`memory.py`) and acts; this module decides.

- A worker is recycled after its request when it is over its soft ceiling,
  has grown since its import past its growth limit, or would push the pool
  over its budget with one more request of the size its requests have had
  (idle workers do not count: they are shed first; a worker whose lease said
  more requests follow is not idle but expected, for `EXPECTED_SECONDS`). One request earlier, the
  same tests of its own limits say a recycle is coming, and a spare starts
  warming. Not for the budget: a spare there would take the room the other
  workers' next requests need, and recycle them in turn.
- A busy worker over its hard ceiling is stopped mid-request.
- Under budget or machine pressure, idle workers go first (least recently
  used), then starts no lease waits for, then, only when the machine itself
  runs out, the busy worker that grew most.
"""

from __future__ import annotations

from collections.abc import Iterable

from .limits import MemoryLimits
from .worker import Worker, WorkerState

STARTING = (WorkerState.STARTING, WorkerState.IMPORTING)
LIVE = (*STARTING, WorkerState.WARM, WorkerState.BUSY)
EXPECTED_SECONDS = 1.0
"""How long a worker back from a lease that said more requests follow counts as in use: a
`check` lane asks again within milliseconds, so shedding it as idle would cost an import."""


def idle(worker: Worker, now: float) -> bool:
    """Warm, and no request expected soon: the first to go when memory is short."""
    return worker.state is WorkerState.WARM and worker.expected_until <= now


def projected_mb(worker: Worker, estimate_mb: float, ahead: int = 1) -> float:
    """What `worker` will hold after `ahead` more requests (a start: what its import will cost)."""
    if worker.state in STARTING:
        return max(worker.memory.charge_mb, estimate_mb) + ahead * worker.expected_growth_mb()
    return worker.memory.charge_mb + ahead * worker.expected_growth_mb()


def others_mb(workers: Iterable[Worker], but: Worker, estimates: dict[int, float], now: float) -> float:
    """What the other workers will hold after their current (or expected) request; idle ones not
    counted (they are shed before anyone in use is recycled), stopping ones until they are gone."""
    total = 0.0
    for w in workers:
        if w is but or w.state is WorkerState.DEAD or idle(w, now):
            continue
        total += projected_mb(w, estimates.get(w.id, 0.0), in_use(w, now))
    return total


def in_use(worker: Worker, now: float) -> int:
    """1 for a worker running, expecting a request, or starting for a waiting lease (count its next
    request's growth), else 0."""
    if worker.state in STARTING:
        return int(worker.claimed)
    return int(worker.state is WorkerState.BUSY or (worker.state is WorkerState.WARM and not idle(worker, now)))


def recycle_reason(
    worker: Worker, limits: MemoryLimits, others: float | None, soft_mb: float | None, ahead: int = 0
) -> str | None:
    """Why `worker` must not take request number `ahead + 1` from now (0: its next one); the
    budget is left out when `others` (what the other workers will hold) is None."""
    now = worker.memory.charge_mb + ahead * worker.expected_growth_mb()
    if soft_mb is not None and now > soft_mb:
        return "memory-ceiling"
    growth = limits.growth_limit(worker.import_mb)
    if growth is not None and worker.growth_mb + ahead * worker.expected_growth_mb() > growth:
        return "memory-growth"
    budget = limits.planned_mb
    if budget is not None and others is not None and others + now + worker.expected_growth_mb() > budget:
        return "memory-budget"
    return None


def over_hard_ceiling(worker: Worker, limits: MemoryLimits) -> bool:
    hard = limits.worker_hard_mb
    return hard is not None and worker.state in (WorkerState.BUSY, *STARTING) and worker.memory.charge_mb > hard


def shed_order(workers: Iterable[Worker], now: float, wanted: frozenset[str] = frozenset()) -> list[Worker]:
    """Who goes first when memory or slots are short: idle workers (least recently used first;
    last those held for the budget and those a queued lease waits for, by key digest in `wanted`),
    then starts no lease waits for (newest first: the least import lost), then warm workers
    expecting a request (least recently used first). Busy ones: never."""
    live = list(workers)
    unused = sorted(
        (w for w in live if idle(w, now)),
        key=lambda w: (w.held_since is not None or w.key.full_digest in wanted, w.last_used),
    )
    unclaimed = sorted((w for w in live if w.state in STARTING and not w.claimed), key=lambda w: -w.created)
    expected = sorted((w for w in live if w.state is WorkerState.WARM and not idle(w, now)), key=lambda w: w.last_used)
    return [*unused, *unclaimed, *expected]


def largest_growth(workers: Iterable[Worker]) -> Worker | None:
    busy = [w for w in workers if w.state is WorkerState.BUSY and w.lost_to is None]
    return max(busy, key=lambda w: w.growth_mb, default=None)
