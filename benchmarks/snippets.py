"""Snippet batches and the MCP front end (issue 17), on the SIMULATED REPL (no Lean here).

2,000 snippets over 5 headers in a generated project, `--jobs 2`, the stand-in's import cost at
0.48 s (as lean-rs measured for a real REPL on a small project):

- planned (`check --snippets`: one warm worker per header), in this process, no result cache;
- the same snippets through the shared daemon: a first time (filling the project's result
  cache), again (all answered from it), and again on the warm sessions without the cache;
- a fresh worker per snippet (`bench --snippets`'s naive path), measured on a sample of the
  snippets (every tenth, so all 5 headers) and scaled to all of them: run whole it would take
  about 2,000 x 0.55 s / 2 jobs, 9 minutes on 2 cores;
- the cost of one `lean_run` on a warm session (import cost 0): a direct pool request in this
  process, the daemon's `run` over its socket, and `lean_run` through `lean-batchd mcp` over
  stdio with the MCP SDK's own client, median of many calls each.

  python benchmarks/snippets.py [--snippets 2000] [--headers 5] [--jobs 2] [--import-seconds 0.48]
      [--naive-sample 200] [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from machine import machine
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from lean_batchd.check_command import CheckOptions, differences
from lean_batchd.engine import EngineConfig
from lean_batchd.engine.checking import CheckReport
from lean_batchd.lake.header import Import
from lean_batchd.plan.keys import Profile, SessionKey
from lean_batchd.server import methods as m
from lean_batchd.server.client import AsyncDaemonClient
from lean_batchd.snippet_command import Snippet, SnippetReport, run_snippets
from lean_batchd.testing import simulated_repl_command
from lean_batchd.testing.workload import generate_workload
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.protocol import Command

ROOT = Path(__file__).resolve().parents[1]


def snippets(count: int, headers: int) -> tuple[list[Snippet], Path, Path]:
    """`count` snippets over `headers` import headers of a generated project (every seventh has a
    `sorry`; every one declares `value`, so a body run on another's environment would fail)."""
    tmp = Path(tempfile.mkdtemp(prefix="lean-batchd-bench-"))
    work = generate_workload(tmp / "work", files=headers, headers=headers)
    heads = sorted({"".join(p.read_text().partition("\ntheorem")[0]) for p in work.files.glob("*.lean")})
    assert len(heads) == headers, heads
    out = []
    for k in range(count):
        proof = "sorry" if k % 7 == 0 else "trivial"
        out.append(
            Snippet(f"s{k}", f"{heads[k % headers]}\ntheorem s{k} : True := {proof}\n\ndef value : Nat := {k}\n", k + 1)
        )
    return out, work.root, tmp


def config(import_seconds: float) -> EngineConfig:
    return EngineConfig(
        worker_command=simulated_repl_command(import_seconds=import_seconds, memory_mb=40.0),
        simulated=True,
        watch=False,
        verify_interval=None,
    )


def check(
    items: list[Snippet],
    folder: Path,
    planned: bool,
    jobs: int,
    import_seconds: float,
    daemon: Path | None = None,
    cache: bool = False,
) -> CheckReport:
    options = CheckOptions(jobs=jobs, planned=planned, output="none", quiet=True, build_check=False, cache=cache)
    with open(os.devnull, "w") as sink:
        got = asyncio.run(run_snippets(items, [], folder, options, config(import_seconds), daemon, sink, sink))
    assert isinstance(got, SnippetReport), got
    return got.report


@contextlib.contextmanager
def daemon(socket: Path, import_seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    serve = [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{socket}", "--simulate",
             "--sim-import-seconds", str(import_seconds), "--max-workers", "8", "--no-prewarm"]  # fmt: skip
    proc = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the daemon did not start"
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


async def median_ms(call: Callable[[], Awaitable[object]], calls: int) -> float:
    for _ in range(10):
        await call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def direct_ms(folder: Path, calls: int) -> float:
    """A warm worker's request straight through the pool of this process."""
    key = SessionKey(
        project_root=str(folder), package="work", target=None, source_root=".", is_module=False, prelude=False,
        imports=(Import("Work.Base.B0"),), profile=Profile.HEADER, toolchain="simulated",
        protocol="leanprover-community/repl", restart_policy="default", worker_command=simulated_repl_command(),
    )  # fmt: skip
    pool = WorkerPool(PoolConfig(idle_ttl=None))
    try:

        async def call() -> None:
            async with pool.lease(key) as lease:
                await lease.run(Command("#check Nat"), None)

        return await median_ms(call, calls)
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def agent(socket: Path, folder: Path) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "lean_batchd", "mcp", "--simulate", "--socket", str(socket)],
        cwd=str(folder), env=dict(os.environ),
    )  # fmt: skip
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


async def through_daemon_ms(socket: Path, folder: Path, calls: int) -> tuple[float, float]:
    """`run` over the daemon's socket, and `lean_run` through `lean-batchd mcp`, on one warm session."""
    path = next(folder.glob("Work/Files/*.lean"))
    client = await AsyncDaemonClient.open(socket, folders=[folder])
    try:

        async def run() -> None:
            await client.request(m.RUN, {"textDocument": {"uri": path.as_uri()}, "command": "#check Nat"})

        daemon_ms = await median_ms(run, calls)
    finally:
        await client.close()
    async with agent(socket, folder) as mcp:

        async def lean_run() -> None:
            result = await mcp.call_tool("lean_run", {"path": str(path), "code": "#check Nat"})
            assert not result.is_error, result

        mcp_ms = await median_ms(lean_run, calls)
    return daemon_ms, mcp_ms


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--snippets", type=int, default=2000)
    p.add_argument("--headers", type=int, default=5)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--import-seconds", type=float, default=0.48)
    p.add_argument("--naive-sample", type=int, default=200)
    p.add_argument("--calls", type=int, default=300)
    args = p.parse_args()
    print(machine())
    print("SIMULATED REPL: import cost and memory are the stand-in's, not Lean's")
    items, folder, tmp = snippets(args.snippets, args.headers)
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # a store of its own, shared with the daemon it starts
    print(f"{len(items)} snippets over {args.headers} headers, jobs {args.jobs}, import {args.import_seconds} s")

    planned = check(items, folder, True, args.jobs, args.import_seconds)
    print(f"  planned, this process:            {planned.elapsed_seconds:8.2f} s  ({planned.sessions} sessions)")
    with daemon(tmp / "d.sock", args.import_seconds):
        first = check(items, folder, True, args.jobs, args.import_seconds, tmp / "d.sock", cache=True)
        cached = check(items, folder, True, args.jobs, args.import_seconds, tmp / "d.sock", cache=True)
        again = check(items, folder, True, args.jobs, args.import_seconds, tmp / "d.sock")
    hits = sum(1 for o in cached.outcomes if o.cached)
    print(f"  planned, shared daemon (cold):    {first.elapsed_seconds:8.2f} s")
    print(f"  the same again (result cache):    {cached.elapsed_seconds:8.2f} s  ({hits} of {len(items)} cached)")
    print(f"  again, warm sessions, no cache:   {again.elapsed_seconds:8.2f} s")
    step = max(1, len(items) // args.naive_sample)
    sample = items[::step]
    naive = check(sample, folder, False, args.jobs, args.import_seconds)
    scaled = naive.elapsed_seconds * len(items) / len(sample)
    print(
        f"  a fresh worker per snippet:       {scaled:8.2f} s  (measured {naive.elapsed_seconds:.2f} s on "
        f"{len(sample)} snippets, scaled to {len(items)}): {scaled / planned.elapsed_seconds:.0f}x the planned run"
    )
    same = [s.name for s in sample]
    mine = CheckReport(tuple(o for o in planned.outcomes if o.path in same), 0, 0, True, 0.0, True)
    differ = differences(naive, mine) + differences(planned, first) + differences(first, cached)
    differ += differences(first, again)
    print(f"  outcomes: {'identical, snippet by snippet' if not differ else f'DIFFER for {differ[:5]}'}")

    print(f"one call on a warm session (import cost 0), median of {args.calls}:")
    direct = asyncio.run(direct_ms(folder, args.calls))
    with daemon(tmp / "o.sock", 0.0):
        over_socket, over_mcp = asyncio.run(through_daemon_ms(tmp / "o.sock", folder, args.calls))
    print(f"  direct pool request (this process):   {direct:6.2f} ms")
    print(f"  daemon `run` over its socket:         {over_socket:6.2f} ms")
    print(
        f"  MCP `lean_run` (stdio, SDK client):   {over_mcp:6.2f} ms  (+{over_mcp - direct:.2f} ms on the direct request)"
    )


if __name__ == "__main__":
    main()
