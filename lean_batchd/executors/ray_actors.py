"""Session actors as the Ray executor holds them: their names, and the memory they reserve
(`lean_memory_mb`, Ray's custom resource) and may grow to before their worker is stopped."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..workers.limits import GROWTH_FLOOR_MB
from ..workers.pool import PoolConfig

MEMORY_RESOURCE = "lean_memory_mb"
PREFIX = "lean-batchd-session-"


@dataclass(slots=True)
class HeldActor:
    """A session actor as this driver holds it: its handle, where Ray placed it, what it reserved."""

    handle: Any
    name: str
    key_digest: str
    full_digest: str
    generation: int
    reserved_mb: float
    node: str | None = None
    host: str | None = None
    busy: int = 0
    last_used: float = field(default_factory=time.monotonic)
    charged_mb: float = 0.0
    adopted: bool = False
    """Re-attached after a restart (a daemon's: it owns them since)."""
    owned: bool = True
    """This executor created it, or adopted it: it stops it when idle or closing. Another
    driver's actor for the same key (`get_if_exists`) is used, never stopped."""
    reserved_until: float = 0.0
    """Prewarmed and not yet used: no room is made by evicting it before then (the local pool's
    `expected_until`), else `check`'s look-ahead would stop the session it just warmed."""

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key_digest,
            "actor": self.name,
            "node": self.node,
            "host": self.host,
            "reservedMb": round(self.reserved_mb, 1),
            "chargedMb": round(self.charged_mb, 1),
            "busy": self.busy > 0,
            "idleSeconds": round(time.monotonic() - self.last_used, 1),
            "adopted": self.adopted,
            "owned": self.owned,
        }


def actor_name(full_digest: str, generation: int) -> str:
    return f"{PREFIX}{full_digest[:24]}.{generation}"


def generation_of(name: str) -> int:
    tail = name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def local_memory_mb(config: PoolConfig) -> float:
    """What a private local Ray offers its sessions: the pool's budget, else the memory available."""
    if config.memory.budget_mb is not None:
        return config.memory.budget_mb
    import psutil

    return psutil.virtual_memory().available / 2**20


def actor_hard_mb(config: PoolConfig, reserved_mb: float) -> float | None:
    """The actor's worker is stopped mid-request past its reservation plus the growth the pool
    allows (`max_growth_mb`, else `growth_ratio` times the import, at least the growth floor):
    lean-batchd's limit acts before the node runs short and Ray's OOM monitor picks a victim.
    The driver's own hard ceiling, if lower, still holds; without a growth limit it alone does."""
    limits = config.memory
    if limits.max_growth_mb is not None:
        growth: float | None = limits.max_growth_mb
    elif limits.growth_ratio is not None:
        growth = max(limits.growth_ratio * reserved_mb, GROWTH_FLOOR_MB)
    else:
        growth = None
    own = None if growth is None else reserved_mb + growth
    ceilings = [c for c in (own, limits.worker_hard_mb) if c is not None]
    return min(ceilings) if ceilings else None


def node_rows(actors: Iterable[HeldActor]) -> list[dict[str, object]]:
    """The cluster's nodes as `status` shows them: memory offered and reserved, sessions held."""
    import ray

    held = list(actors)
    rows: list[dict[str, object]] = []
    for n in ray.nodes():
        here = [a for a in held if a.node == n["NodeID"]]
        rows.append({
            "nodeId": n["NodeID"],
            "address": n["NodeManagerAddress"],
            "alive": bool(n["Alive"]),
            "memoryMb": float(n["Resources"].get(MEMORY_RESOURCE, 0.0)),
            "reservedMb": round(sum(a.reserved_mb for a in here), 1),
            "sessions": [a.key_digest for a in here],
        })  # fmt: skip
    return rows
