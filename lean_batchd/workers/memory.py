"""What a worker really costs: its whole process tree, private memory plus swap.

`.olean` files are memory-mapped and shared between every Lean process, so
RSS overstates a worker's cost several times over and address-space limits
misfire. A worker is charged the private dirty memory plus swap of every
process in its tree (`lake env` runs the REPL as a child), read from
`/proc/PID/smaps_rollup`; RSS and PSS are reported beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

_FIELDS = {"Rss:": "rss", "Pss:": "pss", "Private_Dirty:": "private", "Swap:": "swap"}


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    rss_kb: int
    pss_kb: int
    private_kb: int
    """Private dirty memory of the whole tree."""
    swap_kb: int
    processes: int

    @property
    def charge_kb(self) -> int:
        """What the pool charges against its budget."""
        return self.private_kb + self.swap_kb

    @property
    def charge_mb(self) -> float:
        return self.charge_kb / 1024

    def to_json(self) -> dict[str, float | int]:
        return {
            "rssMb": round(self.rss_kb / 1024, 1),
            "pssMb": round(self.pss_kb / 1024, 1),
            "privateMb": round(self.private_kb / 1024, 1),
            "swapMb": round(self.swap_kb / 1024, 1),
            "chargeMb": round(self.charge_mb, 1),
            "processes": self.processes,
        }


NOTHING = MemoryFigures(0, 0, 0, 0, 0)


def _rollup(pid: int) -> dict[str, int] | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    out = {name: 0 for name in _FIELDS.values()}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in _FIELDS:
            out[_FIELDS[parts[0]]] = int(parts[1])
    return out


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from `/proc/PID/task/TID/children` (a few reads, where psutil
    scans the whole process table); psutil where the kernel lacks those files."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue  # gone
        found.append(current)
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children", encoding="ascii") as f:
                    todo.extend(int(child) for child in f.read().split())
            except FileNotFoundError:
                if not os.path.exists(f"/proc/{current}/task/{tid}"):
                    continue  # the thread ended meanwhile
                return _tree_psutil(pid)
            except OSError:
                continue
    return found


def _tree_psutil(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.Error:
        return []


def measure_tree(pid: int) -> MemoryFigures:
    """Figures for `pid` and all its descendants; a vanished process counts as nothing."""
    rss = pss = private = swap = count = 0
    for member in _tree(pid):
        figures = _rollup(member)
        if figures is None:
            try:
                info = psutil.Process(member).memory_info()
            except psutil.Error:
                continue
            figures = {"rss": info.rss // 1024, "pss": info.rss // 1024, "private": info.rss // 1024, "swap": 0}
        rss += figures["rss"]
        pss += figures["pss"]
        private += figures["private"]
        swap += figures["swap"]
        count += 1
    return MemoryFigures(rss, pss, private, swap, count)
