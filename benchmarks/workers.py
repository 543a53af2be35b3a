"""Worker pool figures (issue 4), on the SIMULATED REPL (no Lean can be installed here).

- N modules over K distinct headers, elaborated naive (a fresh worker per module:
  import, command, exit) against planned (one warm worker per header, reused),
  both `--jobs` at a time, with the stand-in's import cost set to the seed's
  measured ~0.48 s per worker start
- the pool's own overhead per request (lease, run, release) with import cost 0,
  against the same request sent straight to a warm process

  python benchmarks/workers.py [--modules 40] [--headers 4] [--jobs 2] [--import-seconds 0.48]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from machine import machine

from lean_batchd.lake.header import Import
from lean_batchd.plan.keys import Profile, SessionKey
from lean_batchd.testing import simulated_repl_command
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.process import ReplProcess
from lean_batchd.workers.protocol import Command, CommandReply
from lean_batchd.workers.worker import Worker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def key(header: int, import_seconds: float) -> SessionKey:
    return SessionKey(
        ROOT, "bench", None, ".", False, False, (Import(f"Header{header}"),), Profile.HEADER,
        "simulated", "leanprover-community/repl", "default", simulated_repl_command(import_seconds=import_seconds),
    )  # fmt: skip


BODY = "theorem t : True := by\n  trivial\n#check Nat"


async def naive(modules: int, headers: int, jobs: int, import_seconds: float) -> float:
    sem = asyncio.Semaphore(jobs)

    async def one(i: int) -> None:
        async with sem:
            worker = Worker(key(i % headers, import_seconds))
            failure = await worker.start(None)
            assert failure is None, failure
            assert isinstance(await worker.run(Command(BODY), None), CommandReply)
            assert worker.process is not None
            await worker.process.close()

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(modules)))
    return time.perf_counter() - t


async def planned(modules: int, headers: int, jobs: int, import_seconds: float) -> float:
    pool = WorkerPool(PoolConfig(max_workers=jobs, idle_ttl=None))
    sem = asyncio.Semaphore(jobs)
    by_header: dict[int, list[int]] = {}
    for i in range(modules):
        by_header.setdefault(i % headers, []).append(i)

    async def batch(header: int, members: list[int]) -> None:
        async with sem, pool.lease(key(header, import_seconds)) as lease:
            for _ in members:
                assert isinstance(await lease.run(BODY), CommandReply)

    t = time.perf_counter()
    try:
        await asyncio.gather(*(batch(h, m) for h, m in by_header.items()))
        return time.perf_counter() - t
    finally:
        await pool.close()


async def overhead(requests: int) -> tuple[float, float]:
    proc = await ReplProcess.spawn(simulated_repl_command(), ROOT)
    assert isinstance(proc, ReplProcess)
    await proc.request(Command("import Header0"), None)
    raw = []
    for _ in range(requests):
        t = time.perf_counter()
        await proc.request(Command("#check Nat", env=0), None)
        raw.append(time.perf_counter() - t)
    await proc.close()
    pool = WorkerPool(PoolConfig(idle_ttl=None))
    k = key(0, 0.0)
    async with pool.lease(k) as lease:
        await lease.run("#check Nat")
    pooled = []
    for _ in range(requests):
        t = time.perf_counter()
        async with pool.lease(k) as lease:
            await lease.run("#check Nat")
        pooled.append(time.perf_counter() - t)
    await pool.close()
    return statistics.median(raw), statistics.median(pooled)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modules", type=int, default=40)
    p.add_argument("--headers", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--import-seconds", type=float, default=0.48)
    p.add_argument("--requests", type=int, default=500)
    a = p.parse_args()
    print(machine())
    print("SIMULATED REPL (not Lean): import cost", a.import_seconds, "s per worker start")
    n = asyncio.run(naive(a.modules, a.headers, a.jobs, a.import_seconds))
    w = asyncio.run(planned(a.modules, a.headers, a.jobs, a.import_seconds))
    print(
        f"{a.modules} modules over {a.headers} headers, jobs {a.jobs}: naive {n:.2f} s, planned {w:.2f} s, ratio {n / w:.1f}x"
    )
    raw, pooled = asyncio.run(overhead(a.requests))
    print(
        f"per request (median of {a.requests}): straight to a warm process {raw * 1000:.3f} ms, "
        f"through the pool {pooled * 1000:.3f} ms, pool overhead {(pooled - raw) * 1000:.3f} ms (target 1 ms)"
    )


if __name__ == "__main__":
    main()
