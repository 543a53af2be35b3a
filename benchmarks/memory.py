"""Bounded memory over a long `check` (issue 12), on the SIMULATED REPL (no Lean can be installed here).

A generated workload (400 files over 40 headers by default) checked at
`--jobs 2` with workers that import in 0.48 s and take 400 MB, then keep 40 MB
more for every file they check (real allocations: the real REPL frees
nothing). Runs:

- naive (a fresh worker per file), with growth: the outcomes every run must match;
- planned, with growth, budget 1.5 GB (the other limits derived from it as the
  daemon and `check` derive them);
- planned, without growth, same budget: the wall time to compare against;
- planned, with growth, no limits at all: the unbounded growth, for comparison.

Every run elaborates every file: the result cache is off.

Peak charged memory (private dirty + swap of every worker's process tree) is
sampled every 100 ms by this script, independently of the pool; recycles come
from the pool.

  python benchmarks/memory.py [--files 400] [--headers 40] [--jobs 2] [--budget-mb 1536]
      [--import-seconds 0.48] [--import-mb 400] [--growth-mb 40] [--skip-naive]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
from pathlib import Path

import psutil
from machine import machine

from lean_batchd.check_command import CheckOptions, differences, run_check, select_files
from lean_batchd.engine import EngineConfig
from lean_batchd.engine.checking import CheckReport
from lean_batchd.testing import simulated_repl_command
from lean_batchd.testing.workload import generate_workload
from lean_batchd.workers.limits import MemoryLimits, machine_memory
from lean_batchd.workers.memory import measure_tree
from lean_batchd.workers.pool import PoolConfig


class ChargedPeak:
    """Charged memory of all worker trees (the guards this process started), every 100 ms."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0.0
            for child in me.children():
                try:
                    if "guard.py" in " ".join(child.cmdline()):
                        total += measure_tree(child.pid).charge_mb
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total)
            self.samples += 1
            self._stop.wait(0.1)

    def __enter__(self) -> ChargedPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def config(args: argparse.Namespace, growth_mb: float, limits: MemoryLimits) -> EngineConfig:
    command = simulated_repl_command(
        import_seconds=args.import_seconds, memory_mb=args.import_mb, memory_mb_per_command=growth_mb
    )
    return EngineConfig(pool=PoolConfig(memory=limits), worker_command=command, simulated=True, result_cache=False)


def run(files: list[str], planned: bool, jobs: int, engine: EngineConfig) -> tuple[CheckReport, ChargedPeak]:
    options = CheckOptions(jobs=jobs, planned=planned, output="none", quiet=True, build_check=False, cache=False)
    with ChargedPeak() as peak:
        report = asyncio.run(run_check(files, options, engine, None))
    assert isinstance(report, CheckReport), report
    return report, peak


def line(name: str, report: CheckReport, peak: ChargedPeak, reference: CheckReport | None) -> str:
    memory = report.memory
    recycles = ", ".join(f"{n} {why}" for why, n in sorted(memory.recycles.items())) if memory else ""
    same = "" if reference is None else "identical" if not differences(report, reference) else "DIFFER"
    one_each = len(report.outcomes) == len({o.path for o in report.outcomes})
    return (
        f"  {name:<34} {report.elapsed_seconds:7.2f} s   peak {peak.peak_mb:6.0f} MB ({peak.samples} samples)"
        f"   recycled {sum(memory.recycles.values()) if memory else 0:3d} ({recycles or 'none'})"
        f"   outcomes {same or '-'}{'' if one_each else ' (a file twice!)'}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=400)
    p.add_argument("--headers", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--budget-mb", type=float, default=1536.0)
    p.add_argument("--import-seconds", type=float, default=0.48)
    p.add_argument("--import-mb", type=float, default=400.0)
    p.add_argument("--growth-mb", type=float, default=40.0)
    p.add_argument("--skip-naive", action="store_true", help="compare outcomes against the unbounded run instead")
    p.add_argument("--rounds", type=int, default=3, help="repetitions of the planned runs, interleaved")
    args = p.parse_args()
    print(machine())
    print("SIMULATED REPL: import cost and memory are the stand-in's, not Lean's")
    bounded = MemoryLimits.derived(machine_memory(), budget_mb=args.budget_mb)
    print(
        f"limits: budget {bounded.budget_mb:.0f} MB, soft ceiling {bounded.worker_max_mb:.0f} MB, hard "
        f"{bounded.worker_hard_mb:.0f} MB, growth limit = the import's cost (>= 256 MB), machine floor "
        f"{bounded.floor_mb:.0f} MB"
    )
    with tempfile.TemporaryDirectory(prefix="lean-batchd-bench-") as tmp:
        work = generate_workload(Path(tmp) / "work", args.files, args.headers)
        files = select_files([str(work.files)])
        assert isinstance(files, list)
        print(
            f"{len(files)} files over {work.headers} headers, jobs {args.jobs}, import {args.import_seconds} s and "
            f"{args.import_mb:.0f} MB, growth {args.growth_mb:.0f} MB per file"
        )
        reference: CheckReport | None = None
        if not args.skip_naive:
            naive, naive_peak = run(files, False, args.jobs, config(args, args.growth_mb, bounded))
            print(line("naive (fresh worker per file)", naive, naive_peak, None))
            reference = naive
        configs = {
            "planned, growth, budget": config(args, args.growth_mb, bounded),
            "planned, no growth, budget": config(args, 0.0, bounded),
            "planned, growth, no limits": config(args, args.growth_mb, bounded.unbounded()),
        }
        runs: dict[str, list[tuple[CheckReport, ChargedPeak]]] = {name: [] for name in configs}
        for _ in range(args.rounds):  # interleaved: a shared machine's load changes by the minute
            for name, engine in configs.items():
                runs[name].append(run(files, True, args.jobs, engine))
        reference = reference or runs["planned, growth, no limits"][0][0]
        for name, done in runs.items():
            for report, peak in done:
                print(line(name, report, peak, reference))
        times = {name: [r.elapsed_seconds for r, _ in done] for name, done in runs.items()}
        grown, flat, free = (times[n] for n in configs)
        for how, pick in (("median", statistics.median), ("fastest", min)):
            print(
                f"wall time ({how} of {args.rounds}): growth with the budget {pick(grown) / pick(flat):.2f}x the run "
                f"without growth and {pick(grown) / pick(free):.2f}x the unbounded run with growth; the unbounded "
                f"run is {pick(free) / pick(flat):.2f}x the run without growth (the stand-in's own allocations)"
            )
        bounded_peak = max(p.peak_mb for _, p in runs["planned, growth, budget"])
        free_peak = max(p.peak_mb for _, p in runs["planned, growth, no limits"])
        under = "under" if bounded_peak <= args.budget_mb else "OVER"
        print(
            f"peak charged memory: {bounded_peak:.1f} MB, {under} the {args.budget_mb:.0f} MB budget; "
            f"without limits {free_peak:.0f} MB"
        )


if __name__ == "__main__":
    main()
