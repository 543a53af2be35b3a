"""`lean-batchd check` figures (issue 7), on the SIMULATED REPL (no Lean can be installed here).

On `examples/demo` and on a generated workload (400 files over 40 headers by
default): naive (a fresh worker per file) against planned (one warm worker per
header) wall time at `--jobs 2` with the stand-in's import cost at the seed's
measured ~0.48 s; the pool's overhead per file (planned, import cost 0); peak
memory of this process and its workers; and whether both paths gave the same
outcome for every file.

  python benchmarks/check.py [--files 400] [--headers 40] [--jobs 2] [--import-seconds 0.48]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
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

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Peak RSS of this process and all its descendants, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def config(import_seconds: float) -> EngineConfig:
    command = simulated_repl_command(import_seconds=import_seconds, memory_mb=40.0)
    return EngineConfig(worker_command=command, simulated=True)


def run(files: list[str], planned: bool, jobs: int, import_seconds: float) -> tuple[CheckReport, float]:
    options = CheckOptions(jobs=jobs, planned=planned, output="none", quiet=True, build_check=False)
    with PeakMemory() as memory:
        report = asyncio.run(run_check(files, options, config(import_seconds), None))
    assert isinstance(report, CheckReport), report
    return report, memory.peak_mb


def warm_file_ms(report: CheckReport) -> float:
    """Median time of a file on an already warm session: lease, send the body, read the reply,
    map positions (the first file of each session, which waited for the worker, left out)."""
    by_session: dict[str, list[float]] = {}
    for o in report.outcomes:
        by_session.setdefault(o.session_key, []).append(o.elapsed_seconds)
    warm = [t for times in by_session.values() for t in sorted(times)[:-1]]
    return statistics.median(warm) * 1000 if warm else float("nan")


def compare(name: str, files: list[str], jobs: int, import_seconds: float) -> None:
    naive, naive_mb = run(files, False, jobs, import_seconds)
    planned, planned_mb = run(files, True, jobs, import_seconds)
    free, _ = run(files, True, jobs, 0.0)
    differ = differences(naive, planned)
    ratio = naive.elapsed_seconds / planned.elapsed_seconds
    print(f"{name}: {len(files)} files over {planned.sessions} headers, jobs {jobs}")
    print(f"  naive   (a fresh worker per file): {naive.elapsed_seconds:7.2f} s   peak {naive_mb:6.0f} MB")
    print(f"  planned (a warm worker per header): {planned.elapsed_seconds:6.2f} s   peak {planned_mb:6.0f} MB")
    print(f"  speed-up {ratio:.1f}x; outcomes {'identical for every file' if not differ else f'DIFFER: {differ[:5]}'}")
    print(f"  per file on a warm session (import cost 0): {warm_file_ms(free):.2f} ms median")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=400)
    p.add_argument("--headers", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--import-seconds", type=float, default=0.48)
    args = p.parse_args()
    print(machine())
    print("SIMULATED REPL: import cost and memory are the stand-in's, not Lean's")
    with tempfile.TemporaryDirectory(prefix="lean-batchd-bench-") as tmp:
        demo = Path(tmp) / "demo"
        shutil.copytree(ROOT / "examples/demo", demo, ignore=shutil.ignore_patterns(".lake"))
        files = select_files([str(demo)])
        assert isinstance(files, list)
        compare("examples/demo", files, args.jobs, args.import_seconds)
        work = generate_workload(Path(tmp) / "work", args.files, args.headers)
        files = select_files([str(work.files)])
        assert isinstance(files, list)
        compare("generated workload", files, args.jobs, args.import_seconds)


if __name__ == "__main__":
    main()
