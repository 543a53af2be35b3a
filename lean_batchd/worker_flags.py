"""The flags that say how workers run (memory limits, the SIMULATED REPL, the executor) and the
`EngineConfig` they make, shared by `check`, `bench`, `serve`, `connect` and `mcp`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import EngineConfig
    from .executors.base import ExecutorChoice
    from .workers.limits import MemoryLimits

SIM_IMPORT_SECONDS = 0.48
"""The SIMULATED REPL's import time unless told: a real REPL's on a small project (lean-rs)."""


def engine_config(args: argparse.Namespace, simulate: bool) -> EngineConfig:
    from .engine import EngineConfig
    from .testing import simulated_lean_command, simulated_repl_command
    from .workers.limits import MAX_REQUESTS
    from .workers.pool import PoolConfig

    requests = MAX_REQUESTS if args.worker_max_requests is None else args.worker_max_requests
    pool = PoolConfig(
        max_workers=args.max_workers,
        memory=memory_limits(args),
        idle_ttl=args.worker_idle_ttl,
        max_requests=requests or None,
    )
    command = lean = None
    if simulate:
        command = simulated_repl_command(
            import_seconds=sim_import_seconds(args),
            memory_mb=args.sim_memory_mb,
            memory_mb_per_command=args.sim_memory_mb_per_command,
        )
        lean = simulated_lean_command()
    return EngineConfig(
        pool=pool, worker_command=command, lean_command=lean, simulated=simulate, repl_setting=args.repl,
        result_cache=not args.no_cache, executor=executor_choice(args),
    )  # fmt: skip


def executor_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor", choices=["local", "ray"], default="local",
        help="where sessions run: this machine's pool (default), or Ray actors (pip install 'lean-batchd[ray]')",
    )  # fmt: skip
    p.add_argument(
        "--ray-address", default="local", metavar="ADDR",
        help="local (a private single-node Ray, the default), auto (this machine's cluster) or HOST:PORT",
    )  # fmt: skip
    p.add_argument("--ray-namespace", default="lean-batchd", metavar="NS", help="the session actors' Ray namespace")


def executor_choice(args: argparse.Namespace) -> ExecutorChoice:
    from .executors.base import ExecutorChoice

    kind = getattr(args, "executor", "local")
    if kind == "local":
        return ExecutorChoice()
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        print("lean-batchd: --executor ray needs Ray: pip install 'lean-batchd[ray]'", file=sys.stderr)
        raise SystemExit(1)
    detached = args.command == "serve"  # a daemon's sessions outlive it: restarted, it re-attaches
    return ExecutorChoice(kind, args.ray_address, args.ray_namespace, detached=detached)


def memory_limits(args: argparse.Namespace) -> MemoryLimits:
    from .workers.limits import MemoryLimits

    return MemoryLimits.derived(
        budget_mb=None if args.memory_budget == "off" else args.memory_budget,
        bounded=args.memory_budget != "off",
        worker_max_mb=args.worker_max_mb,
        max_growth_mb=args.worker_max_growth_mb,
        address_space_mb=args.worker_address_space_mb,
    )


def budget(value: str) -> float | str:
    return "off" if value == "off" else megabytes(value)


def megabytes(value: str) -> float:
    try:
        got = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MB, not {value!r}") from None
    if not got > 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 MB, not {value}")
    return got


def at_least_one(value: str) -> int:
    try:
        got = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if got < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, not {got}")
    return got


def worker_settings(args: argparse.Namespace) -> list[tuple[str, object]]:
    """The worker limits given on the command line (a daemon already running keeps its own)."""
    given = (
        ("--memory-budget", args.memory_budget),
        ("--worker-max-mb", args.worker_max_mb),
        ("--worker-max-growth-mb", args.worker_max_growth_mb),
        ("--worker-address-space-mb", args.worker_address_space_mb),
        ("--worker-max-requests", args.worker_max_requests),
    )
    return [(flag, value) for flag, value in given if value is not None]


def worker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sim-import-seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--sim-memory-mb", type=float, default=40.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--sim-memory-mb-per-command", type=float, default=0.0, metavar="MB",
        help="with --simulate: the stand-in keeps MB more after every command (to watch the memory policy)",
    )  # fmt: skip
    p.add_argument("--repl", metavar="PATH", help="the Lean REPL binary (else $LEAN_BATCHD_REPL, the project's, PATH)")
    p.add_argument(
        "--memory-budget", type=budget, metavar="MB|off",
        help="charged memory (private + swap) for all workers (default: half the machine's memory, "
        "at most 3/4 of what is available at start; `off`: no budget)",
    )  # fmt: skip
    p.add_argument(
        "--worker-max-mb", type=megabytes, metavar="MB",
        help="soft ceiling per worker: recycled after its request when over (default: 3/4 of the budget); "
        "stopped mid-request at twice this, or the whole budget",
    )  # fmt: skip
    p.add_argument(
        "--worker-max-growth-mb", type=megabytes, metavar="MB",
        help="recycle a worker grown this much since its import (default: its import's cost, at least 256 MB)",
    )  # fmt: skip
    p.add_argument(
        "--worker-max-requests", type=int, metavar="N",
        help="recycle a worker after N requests (default 500, docs/memory.md; 0: never)",
    )  # fmt: skip
    p.add_argument(
        "--worker-address-space-mb", type=megabytes, metavar="MB",
        help="RLIMIT_AS for every process of a worker (off by default; mapped .olean files count)",
    )  # fmt: skip
    p.add_argument("--worker-idle-ttl", type=float, default=600.0, metavar="S", help="reap workers idle this long")
    p.add_argument(
        "--no-cache", action="store_true",
        help="elaborate every file, even where the project's store holds an outcome nothing has changed since",
    )  # fmt: skip


def serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--simulate", action="store_true", help="run the SIMULATED REPL instead of Lean (tests, demos)")
    worker_flags(p)
    p.add_argument(
        "--max-workers", type=at_least_one, default=4, help="warm workers at once, across all sessions (default 4)"
    )
    p.add_argument("--no-prewarm", action="store_true", help="do not prewarm a file's session when it is opened")


def sim_import_seconds(args: argparse.Namespace) -> float:
    """The SIMULATED REPL's import time: as given, else `SIM_IMPORT_SECONDS`."""
    return SIM_IMPORT_SECONDS if args.sim_import_seconds is None else float(args.sim_import_seconds)


def serve_args(args: argparse.Namespace) -> list[str]:
    """The flags a bridge passes on to the daemon it starts."""
    out = ["--max-workers", str(args.max_workers), "--worker-idle-ttl", str(args.worker_idle_ttl)]
    if args.simulate:
        out += ["--simulate", "--sim-import-seconds", str(sim_import_seconds(args))]
        out += ["--sim-memory-mb-per-command", str(args.sim_memory_mb_per_command)]
    for flag, value in worker_settings(args):
        out += [flag, str(value)]
    if args.repl:
        out += ["--repl", args.repl]
    if args.no_prewarm:
        out.append("--no-prewarm")
    if args.no_cache:
        out.append("--no-cache")
    return out
