"""The pool's settings and what it reports: plain values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .limits import MachineMemory, MemoryLimits, machine_memory
from .worker import WorkerInfo


@dataclass(frozen=True, slots=True)
class PoolConfig:
    max_workers: int = 4
    max_workers_per_key: int = 1
    memory: MemoryLimits = field(default_factory=MemoryLimits)
    """Budget, ceilings, growth limit, address space, machine floor (all off by default)."""
    machine: Callable[[], MachineMemory] = machine_memory
    """How the machine's memory is read (while a floor is set)."""
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
    peak_charged_mb: float = 0.0
    """The highest charged total the pool has sampled (every `sample_interval` while busy)."""
    recycles: dict[str, int] = field(default_factory=dict)
    """Workers recycled or stopped for a limit, by reason (`memory-growth`, `memory-hard`, ...)."""
    limits: MemoryLimits = field(default_factory=MemoryLimits)
    machine: MachineMemory | None = None
    """The last reading of the machine's memory (taken while a floor is set)."""
    pressure: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "workers": [w.to_json() for w in self.workers],
            "queueDepth": self.queue_depth,
            "chargedMb": round(self.charged_mb, 1),
            "budgetMb": None if self.budget_mb is None else round(self.budget_mb),
            "peakChargedMb": round(self.peak_charged_mb, 1),
            "recycles": dict(self.recycles),
            "limits": self.limits.to_json(),
            "machine": None if self.machine is None else self.machine.to_json(),
            "memoryPressure": self.pressure,
            "counters": dict(self.counters),
            "importSeconds": {k: round(v, 3) for k, v in self.import_seconds.items()},
        }
