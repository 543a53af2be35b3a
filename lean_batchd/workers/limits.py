"""How much memory the workers may take: limits, and the defaults derived from the machine.

A real REPL frees nothing: it keeps every command's environment, messages and
info trees for the life of the process, so a worker grows with every file it
checks. The pool bounds that (see `pool.py` for how the limits are enforced):

- a **budget** for all workers together (charged memory: private dirty plus
  swap of each worker's process tree, `memory.py`);
- a **soft ceiling** per worker: over it, the worker finishes its request and
  is recycled; and a **hard ceiling**: over it mid-request, the request is
  stopped with a `memory` failure and the worker's tree killed;
- **recycling rules**: after N requests, or once a worker has grown since its
  import by more than its import cost;
- an optional **address-space limit** (`RLIMIT_AS`) on the worker's tree, for
  users who want the kernel to enforce a cap;
- a **floor of available memory** on the machine: under it, idle workers go
  first, then new workers wait or are refused; under half of it, the busy
  worker that grew most is stopped. The machine never swaps itself to death
  on the workers' account.

`MemoryLimits.derived(machine)` gives the defaults the daemon and `check` use
(`docs/memory.md` states the rule and the reasons).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

BUDGET_SHARE_OF_TOTAL = 0.5
"""The workers may take half of the machine: the editor's own Lean server (one `lean --server`
per open file, each holding its imports) and everything else keep the other half."""
BUDGET_SHARE_OF_AVAILABLE = 0.75
"""...and no more than three quarters of what is available when the daemon starts, so a busy
machine gets a smaller budget instead of a swap storm."""
SOFT_SHARE_OF_BUDGET = 0.75
"""One worker holding three quarters of the budget is recycled after its request, before it
crowds out every other session; below that the budget itself decides who recycles (`pool.py`)."""
HARD_FACTOR = 2.0
"""A request is stopped once its worker holds twice its soft ceiling, or the whole budget."""
GROWTH_FLOOR_MB = 256.0
"""Growth below this never recycles a worker: a re-import costs seconds, 256 MB is cheap."""
MAX_REQUESTS = 500
"""A safety net for what memory does not show: REPL processes have been seen to fail after
several hundred commands (leanprover-community/repl#77; LeanInteract#6 after ~560)."""
PLANNING_MARGIN = 0.02
"""The pool plans to 98 % of the budget: the rest absorbs what prediction misses (one request
growing more than the ones before it, the interpreter's own allocations)."""
FLOOR_SHARE_OF_TOTAL = 0.1
FLOOR_MAX_MB = 2048.0
"""Machine pressure starts when less than 10 % of memory (at most 2 GB) is available: below
that the kernel evicts page cache, including the `.olean` pages every Lean process maps."""


@dataclass(frozen=True, slots=True)
class MachineMemory:
    total_mb: float
    available_mb: float
    source: str
    """Where the figures come from: `/proc/meminfo`, or a cgroup whose limit is lower."""

    def to_json(self) -> dict[str, object]:
        return {"totalMb": round(self.total_mb), "availableMb": round(self.available_mb), "source": self.source}


@dataclass(frozen=True, slots=True)
class MemoryLimits:
    """Every limit is optional; `MemoryLimits()` bounds nothing (the library default)."""

    budget_mb: float | None = None
    worker_max_mb: float | None = None
    """Soft ceiling: over it, a worker finishes its request, then is recycled."""
    worker_hard_mb: float | None = None
    """Hard ceiling: over it mid-request, the request fails (`memory`) and the tree is killed."""
    max_growth_mb: float | None = None
    """Recycle once a worker grew this much since its import; with `growth_ratio`, the larger wins."""
    growth_ratio: float | None = None
    """Recycle once a worker grew by this many times its own import's cost (at least `GROWTH_FLOOR_MB`)."""
    address_space_mb: float | None = None
    """`RLIMIT_AS` for every process of a worker's tree (counts mapped `.olean` files too)."""
    floor_mb: float | None = None
    """Machine pressure: available memory under this sheds idle workers and holds new ones."""
    sample_interval: float = 0.1
    """How often busy and starting workers are measured (about 0.1 ms a worker)."""
    derived_from: MachineMemory | None = None

    @staticmethod
    def derived(
        machine: MachineMemory | None = None,
        budget_mb: float | None = None,
        worker_max_mb: float | None = None,
        max_growth_mb: float | None = None,
        address_space_mb: float | None = None,
        bounded: bool = True,
    ) -> MemoryLimits:
        """The defaults of the daemon and `check`, with the user's settings over them. Not
        `bounded`: no budget and no derived ceilings (the user's own and the floor still hold)."""
        machine = machine or machine_memory()
        floor = min(FLOOR_SHARE_OF_TOTAL * machine.total_mb, FLOOR_MAX_MB)
        if not bounded:
            hard = None if worker_max_mb is None else HARD_FACTOR * worker_max_mb
            return MemoryLimits(
                worker_max_mb=worker_max_mb,
                worker_hard_mb=hard,
                max_growth_mb=max_growth_mb,
                address_space_mb=address_space_mb,
                floor_mb=floor,
                derived_from=machine,
            )
        budget = (
            budget_mb
            if budget_mb is not None
            else min(BUDGET_SHARE_OF_TOTAL * machine.total_mb, BUDGET_SHARE_OF_AVAILABLE * machine.available_mb)
        )
        soft = worker_max_mb if worker_max_mb is not None else SOFT_SHARE_OF_BUDGET * budget
        return MemoryLimits(
            budget_mb=budget,
            worker_max_mb=soft,
            worker_hard_mb=min(HARD_FACTOR * soft, max(budget, soft)),
            max_growth_mb=max_growth_mb,
            growth_ratio=None if max_growth_mb is not None else 1.0,
            address_space_mb=address_space_mb,
            floor_mb=floor,
            derived_from=machine,
        )

    def unbounded(self) -> MemoryLimits:
        """The same sampling, no limit (benchmarks compare against it)."""
        return replace(MemoryLimits(), sample_interval=self.sample_interval, derived_from=self.derived_from)

    @property
    def planned_mb(self) -> float | None:
        """The budget the pool plans to (`PLANNING_MARGIN` below it)."""
        return None if self.budget_mb is None else self.budget_mb * (1 - PLANNING_MARGIN)

    def growth_limit(self, import_mb: float) -> float | None:
        limits = [self.max_growth_mb] if self.max_growth_mb is not None else []
        if self.growth_ratio is not None:
            limits.append(max(self.growth_ratio * import_mb, GROWTH_FLOOR_MB))
        return max(limits) if limits else None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, value in asdict(self).items():
            if name != "derived_from":
                out["".join(p.capitalize() if i else p for i, p in enumerate(name.split("_")))] = value
        out["derivedFrom"] = None if self.derived_from is None else self.derived_from.to_json()
        return out


def machine_memory(proc: Path = Path("/proc"), cgroups: Path = Path("/sys/fs/cgroup")) -> MachineMemory:
    """Total and available memory for this process: `/proc/meminfo`, lowered to the memory limit
    of this process's cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`, the lowest on the way
    up the hierarchy) when there is one, as in a container."""
    fields: dict[str, float] = {}
    try:
        for line in (proc / "meminfo").read_text(encoding="ascii").splitlines():
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                fields[name] = int(rest.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    total = fields.get("MemTotal") or _sysconf_total_mb()
    available = fields.get("MemAvailable", total)
    best = MachineMemory(total, available, "/proc/meminfo")
    for limit, used, where in _cgroup_limits(proc, cgroups):
        if limit < best.total_mb:
            best = MachineMemory(limit, max(0.0, min(available, limit - used)), f"cgroup {where}")
    return best


def _sysconf_total_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError):
        return 0.0


_CGROUP_FILES = {
    "v2": ("", "memory.max", "memory.current", "inactive_file"),
    "v1": ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
}
"""Per cgroup version: the memory controller's folder, limit, usage, and reclaimable cache key."""


def _cgroup_limits(proc: Path, cgroups: Path) -> list[tuple[float, float, str]]:
    """(limit, used minus reclaimable file cache, folder) for each limited cgroup above us."""
    try:
        lines = (proc / "self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found: list[tuple[float, float, str]] = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        version = "v2" if controllers == "" else "v1" if "memory" in controllers.split(",") else None
        if version is None:
            continue
        sub, limit_file, used_file, cache_key = _CGROUP_FILES[version]
        base = cgroups / sub if sub else cgroups
        folder = base / path.lstrip("/")
        while folder.is_relative_to(base):
            limit = _number(folder / limit_file)
            if limit is not None and limit < 2**60:
                used = (_number(folder / used_file) or 0) - _stat(folder / "memory.stat", cache_key)
                found.append((limit / 2**20, max(used, 0) / 2**20, str(folder)))
            if folder == base:
                break
            folder = folder.parent
    return found


def _number(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0
