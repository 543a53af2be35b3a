"""The pool's memory policy: holding the limits while workers run.

Memory is bounded while workers run, not only at admission (`limits.py` says
what the limits are, `recycling.py` how they are decided): busy and starting
workers are measured every `sample_interval`. A worker over its hard ceiling
is stopped mid-request (a `memory` failure, its tree killed, a replacement
warmed); one over its soft ceiling or past its growth limit finishes its
request and is recycled, with a spare started a request ahead when the trend
says so, so the session's next request finds a warm worker; one whose next
request would not fit the budget waits, idle, up to an import time for room,
then is recycled. When the machine runs short (available
memory under the floor), idle workers go first, then starts no lease waits
for; new workers wait, and are refused with `memory-pressure` if it lasts the
queue timeout; at half the floor the busy worker that grew most is stopped.

A part of `WorkerPool` (`pool_core.py`): it keeps the memory state and acts
through the pool's lifecycle primitives; `recycling.py` decides, this module acts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from ..plan.keys import SessionKey
from . import recycling
from .failures import FailureKind, WorkerFailure
from .limits import MachineMemory
from .pool_core import PoolCore
from .worker import Worker, WorkerState

LIVE = recycling.LIVE
STARTING = recycling.STARTING


class MemoryPolicy(PoolCore):
    def _init_memory(self) -> None:
        self.recycles: Counter[str] = Counter()
        self.peak_charged_mb = 0.0
        self._machine: MachineMemory | None = None
        self._pressure = False

    # -- accounting -----------------------------------------------------------------

    def measure(self) -> float:
        """Measure every live worker now; the charged total (a caller sampling the peak)."""
        for w in self.workers:
            self._measure(w)
        return self._track_peak()

    def _charged(self) -> float:
        """Charged memory as last measured, of every process still holding some."""
        return sum(w.memory.charge_mb for w in self._holding())

    def _committed(self) -> float:
        """What admitting a new worker must leave room for: workers as they will be after their
        current or expected request, starting ones at their expected cost, stopping ones until
        they are gone (a killed worker frees its memory in ~0.2 s, over a second on a loaded
        machine: counting it as gone at once let a benchmark run reach 1,552 MB of 1,536)."""
        now = time.monotonic()
        return sum(
            recycling.projected_mb(w, self._estimates.get(w.id, 0.0), recycling.in_use(w, now)) for w in self._holding()
        )

    def _wanted(self) -> frozenset[str]:
        """Keys a queued lease waits for: their idle workers are shed last."""
        return frozenset(w.key.full_digest for w in self._queue)

    def _holding(self) -> list[Worker]:
        """Workers whose processes hold memory: live ones and those still stopping."""
        return [
            w
            for w in self.workers
            if w.state in LIVE or (w.state is WorkerState.RETIRING and w.process is not None and w.process.alive)
        ]

    def _hold(self, worker: Worker) -> None:
        """Park a worker whose next request would not fit the budget: its session's next lease
        waits for room (another worker finishing, idle ones shed) for at most one import time,
        then the worker is recycled after all."""
        self._set_state(worker, WorkerState.WARM)
        if worker.held_since is None:
            worker.held_since = time.monotonic()
            self.counters["budget_holds"] += 1
            asyncio.get_running_loop().call_later(self._hold_limit(worker.key), self._wake)

    def _hold_limit(self, key: SessionKey) -> float:
        return min(max(self.history.seconds(key, 1.0), 0.1), 30.0)

    def _room_for_held(self, worker: Worker) -> bool:
        """Has room come back for a held worker? If it has waited an import time, recycle it."""
        if self._memory_reason(worker) is None:
            worker.held_since = None
            return True
        assert worker.held_since is not None
        stopping = any(w.state is WorkerState.RETIRING for w in self._holding())
        if time.monotonic() - worker.held_since >= self._hold_limit(worker.key) and not stopping:
            self._recycle(worker, "memory-budget")  # (with a worker stopping, its memory comes first)
        return False

    def _recycle(self, worker: Worker, reason: str, spare: bool = True) -> None:
        """Retire a worker that served its request well but reached a limit; its spare takes over."""
        self._retire(worker, reason, kill=True)
        if reason.startswith(("memory", "max-")):
            self._count_recycle(worker, reason)
            if spare:
                self._start_spare(worker, f"replacing a worker recycled ({reason})")

    def _count_recycle(self, worker: Worker, reason: str) -> None:
        self.recycles[reason] += 1
        self.history.recycled[worker.key.full_digest] += 1
        count = self.history.recycled[worker.key.full_digest]
        for w in self.workers:
            if w.key == worker.key:
                w.recycles = count

    def _start_spare(self, worker: Worker, reason: str | None = None) -> None:
        """Warm a worker to take `worker`'s place, if there is room (never waits, never under pressure)."""
        if worker.spare is not None and worker.spare.state in LIVE:
            return
        if self._closed or self._pressure or self._restart_refusal(worker.key) is not None:
            return
        if not self._make_room(worker.key, spare_of=worker if worker.state in LIVE else None):
            self.counters["spares_skipped"] += 1
            return
        self.counters["spares"] += 1
        worker.spare = self._new_worker(worker.key, reason or f"spare for worker {worker.id}")
        self._start_in_background(worker.spare)

    def _coming_recycle(self, w: Worker) -> str | None:
        """Will `w` be recycled after its next request for a limit of its own (not the budget)?"""
        soft = self._policy(w.key).max_rss_mb or self.config.memory.worker_max_mb
        return self._own_limit(w, ahead=1) or recycling.recycle_reason(w, self.config.memory, None, soft, ahead=1)

    def _memory_reason(self, w: Worker, ahead: int = 0) -> str | None:
        """Memory's say on `w` after `ahead` more requests. Idle workers do not count: when `w`
        may go on (`ahead` 0), idle ones are shed, least recently used first, to make its room."""
        limits = self.config.memory
        soft = self._policy(w.key).max_rss_mb or limits.worker_max_mb
        others = recycling.others_mb(self._holding(), w, self._estimates, time.monotonic())
        reason = recycling.recycle_reason(w, limits, others, soft, ahead)
        if reason is None and ahead == 0 and self._shed_idle(others + recycling.projected_mb(w, 0.0), but=w):
            # the shed ones still hold their memory for a moment: `w` is held until they are gone
            others = recycling.others_mb(self._holding(), w, self._estimates, time.monotonic())
            reason = recycling.recycle_reason(w, limits, others, soft)
        return reason

    def _shed_idle(self, need_mb: float, but: Worker | None = None) -> bool:
        """Retire idle workers, least recently used first, until `need_mb` and what stays idle
        fit the budget. Whether any was retired."""
        budget = self.config.memory.planned_mb
        if budget is None:
            return False
        idle = [
            v
            for v in recycling.shed_order(self._live(), time.monotonic(), self._wanted())
            if recycling.idle(v, time.monotonic()) and v is not but
        ]
        held = sum(v.memory.charge_mb for v in idle)
        shed = False
        for victim in idle:
            if need_mb + held <= budget:
                break
            held -= victim.memory.charge_mb
            shed = True
            self.counters["evictions_memory_budget"] += 1
            self._retire(victim, "evicted (memory-budget)", kill=True)
            self._count_recycle(victim, "idle-shed-budget")
        return shed

    def _track_peak(self) -> float:
        total = self._charged()
        self.peak_charged_mb = max(self.peak_charged_mb, total)
        return total

    def _machine_text(self) -> str:
        m = self._machine
        floor = self.config.memory.floor_mb
        return "no reading" if m is None else f"{m.available_mb:.0f} MB available, floor {floor or 0:.0f} MB"

    def _hold_limits(self) -> None:
        limits = self.config.memory
        for w in self._live():
            if w.lost_to is not None:
                continue
            if recycling.over_hard_ceiling(w, limits):
                hard = limits.worker_hard_mb or 0.0
                self._stop_for_memory(
                    w,
                    "memory-hard",
                    f"the worker held {w.memory.charge_mb:.0f} MB, over its hard ceiling of {hard:.0f} MB",
                )
            elif w.state is WorkerState.BUSY and w.recycle_reason is None:
                soft = self._policy(w.key).max_rss_mb or limits.worker_max_mb
                reason = recycling.recycle_reason(w, limits, 0.0, soft)
                if reason in ("memory-ceiling", "memory-growth"):  # finish the request, then recycle
                    w.recycle_reason = reason
                    self._notify(w)
                    self._start_spare(w)
        budget = limits.budget_mb
        if budget is not None and self._charged() > budget:  # over in fact, not by plan: react
            self._shed_idle(
                self._charged() - sum(w.memory.charge_mb for w in self._live() if recycling.idle(w, time.monotonic()))
            )
            worst = recycling.largest_growth(w for w in self._live() if w.recycle_reason is None)
            if self._charged() > budget and worst is not None:
                worst.recycle_reason = "memory-budget"
                self._notify(worst)
        if limits.floor_mb is not None:
            self._watch_machine(limits.floor_mb)

    def _short_of_memory(self) -> bool:
        """Read the machine now (~30 µs): is available memory under the floor?"""
        floor = self.config.memory.floor_mb
        if floor is None:
            return False
        machine = self._machine = self.config.machine()
        if machine.available_mb >= floor:
            if self._pressure:
                self._pressure = False
                self._wake()
        elif not self._pressure:
            self._pressure = True
            self.counters["memory_pressure_events"] += 1
        return self._pressure

    def _watch_machine(self, floor: float) -> None:
        """Under the floor: shed one idle worker or unclaimed start per sample, hold new workers;
        under half of it with nothing left to shed, stop the busy worker that grew most."""
        if not self._short_of_memory() or self._machine is None:
            return
        machine = self._machine
        victims = recycling.shed_order(self._live(), time.monotonic(), self._wanted())
        if victims:
            self.counters["evictions_memory_pressure"] += 1
            self._retire(victims[0], "evicted (memory-pressure)", kill=True)
            self._count_recycle(victims[0], "idle-shed-pressure")
        elif machine.available_mb < floor / 2 and (worst := recycling.largest_growth(self._live())) is not None:
            self._stop_for_memory(worst, "memory-pressure", f"the machine ran short of memory ({self._machine_text()})")

    def _stop_for_memory(self, worker: Worker, reason: str, message: str) -> None:
        """Kill the tree now; the request waiting on it ends with this `memory` failure."""
        worker.lost_to = WorkerFailure(FailureKind.MEMORY, message, key_digest=worker.key.digest)
        worker.recycle_reason = reason
        self.counters["memory_stops"] += 1
        if worker.process is not None:
            worker.process.signal_group()
        elif worker.state in STARTING:
            self._retire(worker, reason)
