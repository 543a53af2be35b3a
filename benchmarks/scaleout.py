"""Scale-out figures (issue 16), on the SIMULATED REPL (no Lean can be installed here).

A generated workload (400 files over 40 headers by default, import 0.48 s: the seed's
measured cost) checked planned at `--jobs 2` on the local pool, on Ray with one node, and on a
Ray cluster of two nodes (one CPU and half the sessions' memory each) on this same machine;
then the cost of one batch call (a one-file batch on a warm session: Ray actor vs local pool),
and from those a PROJECTION, not a measurement, for N machines. Everything runs inside a
loopback-only network namespace the script makes (Ray binds what it calls 127.0.0.1 to the
routable address otherwise), so it needs root and `ip`.

  sudo python benchmarks/scaleout.py [--files 400] [--headers 40] [--jobs 2] [--import-seconds 0.48]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from machine import machine

from lean_batchd.check_command import CheckOptions, differences, run_check, select_files
from lean_batchd.engine import Engine, EngineConfig
from lean_batchd.engine.checking import CheckReport
from lean_batchd.executors import BatchItem, ExecutorChoice, SessionBatch
from lean_batchd.executors.local import run_on_pool
from lean_batchd.testing import simulated_repl_command
from lean_batchd.testing.workload import generate_workload

MEMORY = "lean_memory_mb"


def config(import_seconds: float, ray: bool) -> EngineConfig:
    command = simulated_repl_command(import_seconds=import_seconds, memory_mb=40.0)
    choice = ExecutorChoice("ray", "auto", "bench") if ray else ExecutorChoice()
    return EngineConfig(worker_command=command, simulated=True, store=False, executor=choice)


def check(files: list[str], jobs: int, import_seconds: float, ray: bool) -> CheckReport:
    options = CheckOptions(jobs=jobs, output="none", quiet=True, build_check=False, cache=False)
    report = asyncio.run(run_check(files, options, config(import_seconds, ray), None))
    assert isinstance(report, CheckReport), report
    return report


async def batch_overhead(path: str, ray: bool, rounds: int = 60) -> float:
    """Median seconds of a one-file batch on a warm session (the executor's round trip)."""
    engine = Engine(config(0.0, ray))
    try:
        got = await engine.runnable(path)
        assert not isinstance(got, Exception) and isinstance(got, tuple), got
        session = got[1]
        batch = SessionBatch(session.key, session.closure_size, (BatchItem("theorem x : 1 = 1 := rfl"),))
        run = engine.executor.run_batch if ray else (lambda b: run_on_pool(engine.pool, b))
        times = []
        for _ in range(rounds + 5):
            started = time.perf_counter()
            async for _answer in run(batch):
                pass
            times.append(time.perf_counter() - started)
        return statistics.median(times[5:])
    finally:
        await engine.close()


def inside(args: argparse.Namespace) -> None:
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    tmp = Path(tempfile.mkdtemp(prefix="lean-batchd-scaleout-"))
    work = generate_workload(tmp / "work", files=args.files, headers=args.headers)
    files = select_files([str(work.files)])
    assert isinstance(files, list)
    total_mb = 40 * 400.0  # room for every session at the stand-in's cost, on one node or split
    print(
        f"# {machine()}; {len(files)} files over {args.headers} headers, import {args.import_seconds} s, "
        f"jobs {args.jobs}; SIMULATED REPL, not Lean"
    )
    rows: list[tuple[str, float]] = []
    local = check(files, args.jobs, args.import_seconds, False)
    rows.append(("local pool", local.elapsed_seconds))
    local_call = asyncio.run(batch_overhead(files[0], False))

    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             namespace="bench", object_store_memory=256 * 2**20, resources={MEMORY: int(total_mb)})  # fmt: skip
    one = check(files, args.jobs, args.import_seconds, True)
    rows.append(("Ray, 1 node", one.elapsed_seconds))
    ray_call = asyncio.run(batch_overhead(files[0], True))
    ray.shutdown()

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {MEMORY: int(total_mb / 2)}, "include_dashboard": False,
        "object_store_memory": 128 * 2**20})  # fmt: skip
    cluster.add_node(num_cpus=1, resources={MEMORY: int(total_mb / 2)}, object_store_memory=128 * 2**20)
    ray.init(address=cluster.address, namespace="bench", log_to_driver=False)
    cluster.wait_for_nodes()
    two = check(files, args.jobs, args.import_seconds, True)
    rows.append(("Ray, 2 nodes (one machine)", two.elapsed_seconds))
    ray.shutdown()
    cluster.shutdown()

    for name, seconds in rows:
        print(f"{name + ':':<30} {seconds:7.2f} s  {len(files) / seconds:6.1f} files/s")
    differ = [d for r in (one, two) for d in differences(local, r)]
    print(f"outcomes: {'identical to the local pool, file by file' if not differ else f'{len(differ)} differ'}")
    print(
        f"one-file batch on a warm session: local pool {local_call * 1000:.2f} ms, Ray actor {ray_call * 1000:.2f} ms"
        f" (+{(ray_call - local_call) * 1000:.2f} ms a batch)"
    )
    sessions = args.headers
    per_session = one.elapsed_seconds * args.jobs / sessions
    print(
        f"PROJECTION (not measured): each machine runs {args.jobs} lanes; a session costs what it cost on "
        f"Ray with 1 node here, {per_session:.2f} s of one lane (import {args.import_seconds} s, actor start, "
        "its files, the batch call), the sessions split evenly over the lanes."
    )
    for n in (1, 2, 4, 8, 16):
        lanes = n * args.jobs
        seconds = -(-sessions // lanes) * per_session
        print(
            f"  {n:>2} machines: ~{seconds:6.2f} s for these {len(files)} files (~{len(files) / seconds:6.1f} files/s)"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=400)
    p.add_argument("--headers", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--import-seconds", type=float, default=0.48)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inside:
        inside(args)
        return
    name = f"lbd-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        code = subprocess.run(["ip", "netns", "exec", name, sys.executable, *sys.argv, "--inside"], check=False)
        raise SystemExit(code.returncode)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


if __name__ == "__main__":
    main()
