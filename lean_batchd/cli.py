"""The `lean-batchd` command line.

Each command imports what it uses when it runs: `--version`, `discover` and
`plan` load neither the engine, the pool nor pygls and lsprotocol, which only
`serve` needs (`check` and `connect` talk to the daemon with our own small
client), so a command starts in tens of milliseconds, not a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__

if TYPE_CHECKING:
    from .check_command import CheckOptions
    from .engine import EngineConfig
    from .engine.values import EngineError
    from .executors.base import ExecutorChoice
    from .snippet_command import SnippetInput
    from .store.models import OpenedModel
    from .workers.limits import MemoryLimits

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_PROJECT = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""As a shell reports a command that SIGINT or SIGPIPE ended (128 + the signal)."""


def _opened(path: str, roots: Sequence[str] | None, remember: bool = True, save: bool = True) -> OpenedModel | int:
    """The project's model, from its store when it holds one (re-reading only what changed)."""
    from .lake import ProjectOptions, WorkspaceOptions
    from .store.models import OpenedModel, open_project

    if not os.path.exists(path):
        print(f"lean-batchd: {path}: no such file or folder", file=sys.stderr)
        return EXIT_NO_PROJECT
    options = ProjectOptions(
        only_roots=tuple(roots) if roots else None,
        workspace=WorkspaceOptions(query_lean_version=True),
    )
    found = open_project(path, options, remember, save)
    if isinstance(found, OpenedModel):
        return found
    for d in found.diagnostics:
        print(f"lean-batchd: {d.render()}", file=sys.stderr)
    return EXIT_NO_PROJECT


def _discover(args: argparse.Namespace) -> int:
    from .lake.report import project_json, project_summary

    opened = _opened(args.path, args.roots, not args.no_store)
    if isinstance(opened, int):
        return opened
    if args.json:
        _print_json(project_json(opened.project))
    else:
        print(project_summary(opened.project))
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from .plan import PlanConfig, Profile, Strategy, plan_project
    from .plan.report import plan_json, plan_table
    from .store.plans import remembered_plan
    from .terminal import width

    opened = _opened(args.path, None, not args.no_store, save=False)
    if isinstance(opened, int):
        return opened
    config = PlanConfig(
        profile=Profile(args.profile),
        strategy=Strategy(args.strategy),
        max_closure=args.max_closure,
        library=args.library,
    )
    result = remembered_plan(opened, config) if not args.no_store else plan_project(opened.project, config)
    if args.json:
        _print_json(plan_json(result))
    else:
        print(plan_table(result, opened.project.name, width(sys.stdout) or 120))
    return EXIT_FAILED if any(d.severity == "error" for d in result.diagnostics) else EXIT_OK


def _engine_config(args: argparse.Namespace, simulate: bool) -> EngineConfig:
    from .engine import EngineConfig
    from .testing import simulated_lean_command, simulated_repl_command
    from .workers.limits import MAX_REQUESTS
    from .workers.pool import PoolConfig

    requests = MAX_REQUESTS if args.worker_max_requests is None else args.worker_max_requests
    pool = PoolConfig(
        max_workers=args.max_workers,
        memory=_memory_limits(args),
        idle_ttl=args.worker_idle_ttl,
        max_requests=requests or None,
    )
    command = lean = None
    if simulate:
        command = simulated_repl_command(
            import_seconds=args.sim_import_seconds,
            memory_mb=args.sim_memory_mb,
            memory_mb_per_command=args.sim_memory_mb_per_command,
        )
        lean = simulated_lean_command()
    return EngineConfig(
        pool=pool, worker_command=command, lean_command=lean, simulated=simulate, repl_setting=args.repl,
        result_cache=not args.no_cache, executor=_executor_choice(args),
    )  # fmt: skip


def _executor_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor", choices=["local", "ray"], default="local",
        help="where sessions run: this machine's pool (default), or Ray actors (pip install 'lean-batchd[ray]')",
    )  # fmt: skip
    p.add_argument(
        "--ray-address", default="local", metavar="ADDR",
        help="local (a private single-node Ray, the default), auto (this machine's cluster) or HOST:PORT",
    )  # fmt: skip
    p.add_argument("--ray-namespace", default="lean-batchd", metavar="NS", help="the session actors' Ray namespace")


def _executor_choice(args: argparse.Namespace) -> ExecutorChoice:
    from .executors.base import ExecutorChoice

    kind = getattr(args, "executor", "local")
    if kind == "local":
        return ExecutorChoice()
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        print("lean-batchd: --executor ray needs Ray: pip install 'lean-batchd[ray]'", file=sys.stderr)
        raise SystemExit(EXIT_FAILED)
    detached = args.run is _serve  # a daemon's sessions outlive it: restarted, it re-attaches
    return ExecutorChoice(kind, args.ray_address, args.ray_namespace, detached=detached)


def _memory_limits(args: argparse.Namespace) -> MemoryLimits:
    from .workers.limits import MemoryLimits

    return MemoryLimits.derived(
        budget_mb=None if args.memory_budget == "off" else args.memory_budget,
        bounded=args.memory_budget != "off",
        worker_max_mb=args.worker_max_mb,
        max_growth_mb=args.worker_max_growth_mb,
        address_space_mb=args.worker_address_space_mb,
    )


def _budget(value: str) -> float | str:
    return "off" if value == "off" else _megabytes(value)


def _megabytes(value: str) -> float:
    try:
        got = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MB, not {value!r}") from None
    if not got > 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 MB, not {value}")
    return got


def _at_least_one(value: str) -> int:
    try:
        got = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if got < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, not {got}")
    return got


def _worker_settings(args: argparse.Namespace) -> list[tuple[str, object]]:
    """The worker limits given on the command line (a daemon already running keeps its own)."""
    given = (
        ("--memory-budget", args.memory_budget),
        ("--worker-max-mb", args.worker_max_mb),
        ("--worker-max-growth-mb", args.worker_max_growth_mb),
        ("--worker-address-space-mb", args.worker_address_space_mb),
        ("--worker-max-requests", args.worker_max_requests),
    )
    return [(flag, value) for flag, value in given if value is not None]


def _worker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sim-import-seconds", type=float, default=0.48, help=argparse.SUPPRESS)
    p.add_argument("--sim-memory-mb", type=float, default=40.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--sim-memory-mb-per-command", type=float, default=0.0, metavar="MB",
        help="with --simulate: the stand-in keeps MB more after every command (to watch the memory policy)",
    )  # fmt: skip
    p.add_argument("--repl", metavar="PATH", help="the Lean REPL binary (else $LEAN_BATCHD_REPL, the project's, PATH)")
    p.add_argument(
        "--memory-budget", type=_budget, metavar="MB|off",
        help="charged memory (private + swap) for all workers (default: half the machine's memory, "
        "at most 3/4 of what is available at start; `off`: no budget)",
    )  # fmt: skip
    p.add_argument(
        "--worker-max-mb", type=_megabytes, metavar="MB",
        help="soft ceiling per worker: recycled after its request when over (default: 3/4 of the budget); "
        "stopped mid-request at twice this, or the whole budget",
    )  # fmt: skip
    p.add_argument(
        "--worker-max-growth-mb", type=_megabytes, metavar="MB",
        help="recycle a worker grown this much since its import (default: its import's cost, at least 256 MB)",
    )  # fmt: skip
    p.add_argument(
        "--worker-max-requests", type=int, metavar="N",
        help="recycle a worker after N requests (default 500, docs/memory.md; 0: never)",
    )  # fmt: skip
    p.add_argument(
        "--worker-address-space-mb", type=_megabytes, metavar="MB",
        help="RLIMIT_AS for every process of a worker (off by default; mapped .olean files count)",
    )  # fmt: skip
    p.add_argument("--worker-idle-ttl", type=float, default=600.0, metavar="S", help="reap workers idle this long")
    p.add_argument(
        "--no-cache", action="store_true",
        help="elaborate every file, even where the project's store holds an outcome nothing has changed since",
    )  # fmt: skip


def _serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--simulate", action="store_true", help="run the SIMULATED REPL instead of Lean (tests, demos)")
    _worker_flags(p)
    p.add_argument(
        "--max-workers", type=_at_least_one, default=4, help="warm workers at once, across all sessions (default 4)"
    )
    p.add_argument("--no-prewarm", action="store_true", help="do not prewarm a file's session when it is opened")


def _serve_args(args: argparse.Namespace) -> list[str]:
    """The flags a bridge passes on to the daemon it starts."""
    out = ["--max-workers", str(args.max_workers), "--worker-idle-ttl", str(args.worker_idle_ttl)]
    if args.simulate:
        out += ["--simulate", "--sim-import-seconds", str(args.sim_import_seconds)]
        out += ["--sim-memory-mb-per-command", str(args.sim_memory_mb_per_command)]
    for flag, value in _worker_settings(args):
        out += [flag, str(value)]
    if args.repl:
        out += ["--repl", args.repl]
    if args.no_prewarm:
        out.append("--no-prewarm")
    if args.no_cache:
        out.append("--no-cache")
    return out


def _log_to(path: str | None, verbose: bool) -> None:
    import logging

    logging.basicConfig(
        filename=path,
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .engine import Engine
    from .server.daemon import DaemonError, serve_socket, serve_stdio  # pygls: only where LSP is served

    _log_to(args.log_file, args.verbose)
    from .executors import ExecutorUnavailable

    engine = Engine(_engine_config(args, args.simulate))
    try:
        for note in engine.executor.start():  # Ray: join the cluster, re-attach to live sessions
            logging.getLogger("lean_batchd.executors").info(note)
    except ExecutorUnavailable as e:
        print(f"lean-batchd: {e}", file=sys.stderr)
        return EXIT_FAILED
    prewarm = not args.no_prewarm
    if not args.listen and sys.stdin.isatty():
        print(
            "lean-batchd serve: speaking LSP on stdin/stdout, as an editor starts it "
            "(the editors run `lean-batchd connect`; see `lean-batchd --help`). Ctrl-C stops.",
            file=sys.stderr,
        )
    try:
        if args.listen:
            return asyncio.run(serve_socket(engine, args.listen, args.idle_timeout, prewarm))
        return asyncio.run(serve_stdio(engine, prewarm))
    except DaemonError as e:
        print(f"lean-batchd: {e}", file=sys.stderr)
        return e.code


def _connect(args: argparse.Namespace) -> int:
    from .server.address import default_socket
    from .server.bridge import bridge, open_daemon

    path = Path(args.socket) if args.socket else default_socket(args.simulate)
    got = open_daemon(path, _serve_args(args))
    if isinstance(got, str):
        print(f"lean-batchd connect: {got}", file=sys.stderr)
        return EXIT_FAILED
    return bridge(got)


def _mcp(args: argparse.Namespace) -> int:
    try:
        from .mcp.server import command  # the MCP SDK: only for this command
    except ImportError as e:
        print(f"lean-batchd mcp needs the MCP SDK ({e}): pip install 'lean-batchd[mcp]'", file=sys.stderr)
        return EXIT_FAILED
    from .server.address import default_socket

    path = Path(args.socket) if args.socket else default_socket(args.simulate)
    return command(path, args.project, _serve_args(args))


def run_interruptible(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, where the first Ctrl-C cancels `main` (its requests, its workers)
    and ends in KeyboardInterrupt once that is done, whatever `main` made of the
    cancellation; a second Ctrl-C leaves at once."""
    import asyncio
    import signal

    interrupted = False

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None

        def on_sigint() -> None:
            nonlocal interrupted
            if interrupted:
                print("\nlean-batchd: interrupted", file=sys.stderr)
                os._exit(EXIT_INTERRUPTED)
            interrupted = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_sigint)
        return await main

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    if interrupted:
        raise KeyboardInterrupt
    return result


def _simulating(args: argparse.Namespace, files: list[str]) -> bool:
    """`--simulate` always; `--simulate=auto` only when no Lean REPL is found (and says so).
    No files: snippets on the bare toolchain, whose REPL runs without Lake."""
    from .lake.root import find_lake_root
    from .workers.locate import Located, ReplFound, ReplMismatch, find_repl

    if args.simulate != "auto":
        return bool(args.simulate == "always")
    root = find_lake_root(Path(files[0])) if files else None
    found: Located | None
    if root is None:
        found = find_repl(Path("/"), args.repl, under_lake=False)
    else:
        found = find_repl(root.found.root, args.repl) if root.found is not None else None
    if isinstance(found, ReplFound):
        return False
    why = "no Lean REPL of the project's Lean version" if isinstance(found, ReplMismatch) else "no Lean REPL"
    print(f"lean-batchd: {why} here, so --simulate=auto runs the SIMULATED REPL", file=sys.stderr)
    return True


def _check_setup(args: argparse.Namespace) -> tuple[list[str], CheckOptions, EngineConfig] | int:
    from .check_command import EXIT_NO_FILES, select_files

    if not args.paths:
        from .lake.root import find_lake_root

        if find_lake_root(Path.cwd()).found is None:
            print("lean-batchd: give Lean files or folders to check (or --snippets FILE.jsonl)", file=sys.stderr)
            return EXIT_NO_FILES
        args.paths = ["."]  # inside a Lake project: the project's files here, as `lake build` would
    files = select_files(args.paths)
    if isinstance(files, str):
        print(f"lean-batchd: {files}", file=sys.stderr)
        return EXIT_NO_FILES
    simulate = _simulating(args, files)
    return files, _check_options(args, simulate, "text"), _engine_config(args, simulate)


def _check_options(args: argparse.Namespace, simulate: bool, output: str) -> CheckOptions:
    from .check_command import CheckOptions

    args.max_workers = args.jobs
    return CheckOptions(
        jobs=args.jobs,
        planned=not args.no_plan,
        output="json" if args.json else "jsonl" if args.jsonl else output,
        build_check=args.build_check if args.build_check is not None else not simulate,
        timeout=args.timeout,
        quiet=args.quiet,
        color=args.color,
        cache=not args.no_cache,
    )


def _snippet_setup(args: argparse.Namespace) -> tuple[SnippetInput, CheckOptions, EngineConfig] | int:
    """Snippets from `--snippets FILE` (`-`: stdin), run in `--project` or the working folder's project."""
    from .check_command import EXIT_NO_FILES
    from .snippet_command import snippet_input

    if args.paths:
        print("lean-batchd: give files or --snippets, not both", file=sys.stderr)
        return EXIT_NO_FILES
    got = snippet_input(args.snippets, args.project)
    if isinstance(got, str):
        print(f"lean-batchd: {got}", file=sys.stderr)
        return EXIT_NO_FILES
    simulate = _simulating(args, [str(got.folder)] if got.folder is not None else [])
    return got, _check_options(args, simulate, "jsonl"), _engine_config(args, simulate)


def _failed_to_start(error: EngineError) -> int:
    from .check_command import EXIT_NO_FILES, EXIT_NO_LEAN
    from .engine.values import ErrorKind

    hint = " (or try the pipeline on the REPL stand-in with --simulate)" if error.kind is ErrorKind.NO_REPL else ""
    print(f"lean-batchd: {error.message}{hint}", file=sys.stderr)
    if error.kind is ErrorKind.NO_DAEMON:
        return EXIT_FAILED
    return EXIT_NO_LEAN if error.kind in (ErrorKind.NO_REPL, ErrorKind.REPL_MISMATCH) else EXIT_NO_FILES


def _check(args: argparse.Namespace) -> int:
    from .check_command import run_check
    from .engine.values import EngineError
    from .executors import ExecutorUnavailable

    if args.snippets is not None:
        return _check_snippets(args)
    setup = _check_setup(args)
    if isinstance(setup, int):
        return setup
    files, options, config = setup
    daemon = None if args.executor != "local" else _daemon_for(args, config.simulated)
    try:
        report = run_interruptible(run_check(files, options, config, daemon))
    except ExecutorUnavailable as e:
        print(f"lean-batchd: {e}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(report, EngineError):
        return _failed_to_start(report)
    return EXIT_FAILED if report.failed else EXIT_OK


def _daemon_for(args: argparse.Namespace, simulated: bool) -> Path | None:
    """The shared daemon's socket `check` tries first, unless told otherwise or given worker limits:
    a running daemon's workers keep the limits it started with, so those run in this process."""
    from .server.address import default_socket

    if args.no_daemon or args.no_plan:
        return None
    path = Path(args.socket) if args.socket else default_socket(simulated)
    given = _worker_settings(args) + ([("--sim-memory-mb-per-command", 0)] if args.sim_memory_mb_per_command else [])
    if not given:
        return path
    if path.exists():
        flags = ", ".join(flag for flag, _ in given)
        print(f"lean-batchd: {flags} given: checking with workers of this process (the shared daemon keeps its own)",
              file=sys.stderr)  # fmt: skip
    return None


def _check_snippets(args: argparse.Namespace) -> int:
    from .check_command import EXIT_NO_FILES
    from .engine.values import EngineError
    from .snippet_command import run_snippets, write_invalid

    setup = _snippet_setup(args)
    if isinstance(setup, int):
        return setup
    given, options, config = setup
    if not given.snippets:
        write_invalid(given.invalid, sys.stdout)
        print("lean-batchd: no snippet to check", file=sys.stderr)
        return EXIT_NO_FILES
    daemon = _daemon_for(args, config.simulated)
    report = run_interruptible(run_snippets(given.snippets, given.invalid, given.folder, options, config, daemon))
    if isinstance(report, EngineError):
        return _failed_to_start(report)
    return EXIT_FAILED if report.failed else EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from .check_command import EXIT_NO_FILES, differences, run_bench
    from .engine.values import EngineError
    from .snippet_command import SnippetInput, run_snippet_bench

    setup: tuple[Any, CheckOptions, EngineConfig] | int
    setup = _snippet_setup(args) if args.snippets is not None else _check_setup(args)
    if isinstance(setup, int):
        return setup
    items, options, config = setup
    noun = "file"
    if isinstance(items, SnippetInput):
        noun = "snippet"
        if not items.snippets:
            print("lean-batchd: no snippet to check", file=sys.stderr)
            return EXIT_NO_FILES
        pair = run_interruptible(run_snippet_bench(items.snippets, items.folder, options, config, sys.stderr))
        got = pair if isinstance(pair, EngineError) else (pair[0].report, pair[1].report)
        count = len(items.snippets)
    else:
        got = run_interruptible(run_bench(items, options, config))
        count = len(items)
    if isinstance(got, EngineError):
        return _failed_to_start(got)
    naive, planned = got
    differ = differences(naive, planned)
    sim = " [SIMULATED REPL: not Lean]" if config.simulated else ""
    rows = [
        (f"naive (a fresh worker per {noun})", naive.elapsed_seconds),
        (f"planned ({planned.sessions} warm {'session' if planned.sessions == 1 else 'sessions'})",
         planned.elapsed_seconds),
    ]  # fmt: skip
    label = max(len(r[0]) for r in rows)
    print(f"{count} {noun if count == 1 else noun + 's'}, jobs {options.jobs}{sim}")
    for name, seconds in rows:
        print(f"{name + ':':<{label + 1}} {seconds:8.2f} s")
    print(f"{'speed-up:':<{label + 1}} {naive.elapsed_seconds / max(planned.elapsed_seconds, 1e-9):8.2f}x")
    if differ:
        print(f"outcomes differ for {len(differ)} {noun}s: {', '.join(differ[:10])}")
        return EXIT_FAILED
    print(f"outcomes: identical, {noun} by {noun}")
    return EXIT_OK


def _check_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="Lean files, or folders (their project's modules there); default: . inside a Lake project",
    )  # fmt: skip
    p.add_argument(
        "--snippets", metavar="FILE.jsonl",
        help="check snippets instead: a JSON line each with `id` and `code` (`-`: stdin)",
    )  # fmt: skip
    p.add_argument(
        "--project", metavar="PATH", help="snippets: run in this Lake project (default: the working folder's)"
    )
    p.add_argument("-j", "--jobs", type=_at_least_one, default=2, help="sessions run at once (default 2)")
    p.add_argument(
        "--simulate", choices=["always", "auto"], metavar="[=auto]",
        help="run the SIMULATED REPL instead of Lean; --simulate=auto: only when no Lean REPL is found",
    )  # fmt: skip
    p.add_argument("--timeout", type=float, metavar="S", help="per file")
    p.add_argument(
        "--build-check", action=argparse.BooleanOptionalAction, default=None,
        help="refuse files whose imports have a missing or stale .olean (default: on, off when simulated)",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no plan or progress on stderr")
    p.add_argument(
        "--color", choices=["auto", "always", "never"], default="auto",
        help="colour severities and outcomes (auto: on a terminal, unless NO_COLOR is set)",
    )  # fmt: skip
    _worker_flags(p)
    _executor_flags(p)


def _doctor(args: argparse.Namespace) -> int:
    """What running real Lean here needs, found or not, and a smoke test of the REPL when there
    is one: editors' health checks call this."""
    import asyncio

    from .daemon_commands import running
    from .doctor import repl_report, smoke_test
    from .lake import LakeProject, ProjectOptions, WorkspaceOptions, discover
    from .server.address import default_socket
    from .testing import simulated_repl_command

    lines = [f"lean-batchd {__version__} (Python {sys.executable})"]
    report: dict[str, object] = {"version": __version__, "python": sys.executable}
    found = discover(args.path, ProjectOptions(workspace=WorkspaceOptions(query_lean_version=True)))
    ok = False
    if isinstance(found, LakeProject):
        root, toolchain = found.root.root, found.workspace.toolchain
        report["project"] = {"name": found.name, "root": str(root), "toolchain": toolchain.to_json()}
        lines.append(f"project: {found.name} at {root} ({toolchain.spec or 'no lean-toolchain'})")
        repl, usable = repl_report(found, args.repl)
        command = simulated_repl_command() if args.simulate else usable.command if usable is not None else None
        if usable is not None:
            version = f" (Lean {usable.lean_version}, from {usable.version_from})" if usable.lean_version else ""
            lines.append("REPL: " + " ".join(usable.command) + version)
        elif not args.simulate:
            lines.append(f"REPL: missing: {repl['missing']}")
        if command is not None:
            smoke = asyncio.run(smoke_test(found, command))
            repl["smoke"] = {**smoke.to_json(), "simulated": args.simulate}
            sim = " [SIMULATED REPL: not Lean]" if args.simulate else ""
            state = "ok" if smoke.ok else "FAILED"
            lines.append(f"smoke test{sim}: {state}: {smoke.message} ({smoke.header}, {smoke.seconds:.1f} s)")
            ok = smoke.ok
        report["repl"] = repl
    else:
        missing = "; ".join(d.render() for d in found.diagnostics)
        report["project"] = {"missing": missing}
        lines.append(f"project: none: {missing}")
    paths = [default_socket(False), default_socket(True)]
    answering = dict(asyncio.run(running(paths)))
    daemons = []
    for path in paths:
        simulated = path == paths[1]
        pid = answering[path].get("daemon", {}).get("pid") if path in answering else None
        daemons.append({"socket": str(path), "running": path in answering, "simulated": simulated, "pid": pid})
        state = f"running (pid {pid})" if path in answering else "not running"
        lines.append(f"{'SIMULATED daemon' if simulated else 'daemon'}: {state} at {path}")
    report["daemons"] = daemons
    if args.json:
        _print_json(report)
    else:
        print("\n".join(lines))
    return EXIT_OK if ok else EXIT_FAILED


def _print_json(doc: object) -> None:
    json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


DESCRIPTION = """\
Keep Lean 4 imports warm: lean-batchd reads a Lake project without Lean, groups its files by
the imports they need, and elaborates each group in one warm Lean REPL session, shared with
your editors through one daemon per user."""

EPILOG = """\
common commands:
  lean-batchd check PATH          elaborate files, each in its header's warm session
  lean-batchd plan PATH           which files share a session
  lean-batchd status              the running daemon: projects, warm workers, memory
  lean-batchd doctor PATH         what running real Lean here needs, found or not

`lean-batchd COMMAND --help` tells more. Without Lean installed, add --simulate to run the
SIMULATED REPL stand-in (it says so everywhere); on status, stop, restart and evict it
names the simulated daemon."""


PROFILES = ("header", "module")
"""`plan.Profile`'s values, and `STRATEGIES` `plan.Strategy`'s (spelled out so that building the
parser imports no planner: a test holds them equal)."""
STRATEGIES = ("exact", "cover")


def _daemon_command(name: str) -> Callable[[argparse.Namespace], int]:
    """A command of `daemon_commands`, imported when it runs."""

    def run(args: argparse.Namespace) -> int:
        from . import daemon_commands

        command: Callable[[argparse.Namespace], int] = getattr(daemon_commands, name)
        return command(args)

    return run


def _cache(args: argparse.Namespace) -> int:
    from .cache_commands import clear_command, info_command

    run = info_command if args.action == "info" else clear_command
    return run(args)


def _store_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-store", action="store_true",
        help="discover afresh, without the model the project's store remembers (nor storing one)",
    )  # fmt: skip


def _daemon_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--socket", metavar="PATH", help="the daemon's socket (default: the per-user ones)")
    p.add_argument("--simulate", action="store_true", help=f"{what} only the SIMULATED daemon")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lean-batchd", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--version", action="version", version=f"lean-batchd {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ch = sub.add_parser("check", help="elaborate files, each in its header's warm session")
    _check_flags(ch)
    fmt = ch.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON document")
    fmt.add_argument("--jsonl", action="store_true", help="a JSON line per file as it finishes, then a summary")
    ch.add_argument("--no-plan", action="store_true", help="naive: a fresh worker per file (for comparison)")
    ch.add_argument("--no-daemon", action="store_true", help="use workers of this process, not the shared daemon's")
    ch.add_argument("--socket", metavar="PATH", help="the shared daemon's socket (default: the per-user one)")
    ch.set_defaults(run=_check)
    be = sub.add_parser("bench", help="check naive and planned, compare times and outcomes")
    _check_flags(be)
    be.set_defaults(run=_bench, json=False, jsonl=False, no_plan=False)
    d = sub.add_parser("discover", help="find a Lake project's modules, imports and fingerprints")
    d.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    d.add_argument("--roots", nargs="+", metavar="ROOT", help="only these module roots")
    d.add_argument("--json", action="store_true", help="one JSON document")
    _store_flag(d)
    d.set_defaults(run=_discover)
    pl = sub.add_parser("plan", help="group a project's modules into batches by the session that serves them")
    pl.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    pl.add_argument(
        "--profile", choices=PROFILES, default=PROFILES[0],
        help="header: a session imports a file's own header, to elaborate its body (default); "
        "module: a session has the module loaded, to query its declarations",
    )  # fmt: skip
    pl.add_argument(
        "--strategy", choices=STRATEGIES, default=STRATEGIES[0],
        help="exact: one session per distinct key (default); cover: few sessions whose imports "
        "cover many modules (module profile)",
    )  # fmt: skip
    pl.add_argument("--max-closure", type=int, metavar="N", help="cover: at most N modules imported per session")
    pl.add_argument("--library", metavar="NAME", help="only this library's modules")
    pl.add_argument("--json", action="store_true", help="one JSON document")
    _store_flag(pl)
    pl.set_defaults(run=_plan)
    ca = sub.add_parser("cache", help="the project's store: what it holds (info), or empty it (clear)")
    actions = ca.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="what the project's store holds")
    info.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    info.add_argument("--json", action="store_true", help="one JSON document")
    clear = actions.add_parser("clear", help="empty the project's store (or every project's)")
    clear.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    clear.add_argument("--all", action="store_true", help="every project's store")
    ca.set_defaults(run=_cache)
    st = sub.add_parser("status", help="the running daemon: pid, socket, log, projects, workers, memory")
    _daemon_flags(st, "ask")
    st.add_argument("--json", action="store_true", help="one JSON document")
    st.set_defaults(run=_daemon_command("status_command"))
    sp = sub.add_parser("stop", help="stop the running daemon (its workers with it)")
    _daemon_flags(sp, "stop")
    sp.set_defaults(run=_daemon_command("stop_command"))
    rs = sub.add_parser("restart", help="stop the running daemon and start it again with the same settings")
    _daemon_flags(rs, "restart")
    rs.set_defaults(run=_daemon_command("restart_command"))
    ev = sub.add_parser("evict", help="stop the warm workers of these files' sessions (or --all)")
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.add_argument("--all", action="store_true", help="every warm worker of the daemon")
    _daemon_flags(ev, "ask")
    ev.set_defaults(run=_daemon_command("evict_command"))
    dr = sub.add_parser("doctor", help="check what running real Lean needs: the project, its REPL, the daemon")
    dr.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    dr.add_argument("--repl", metavar="PATH", help="the Lean REPL binary to check")
    dr.add_argument("--simulate", action="store_true", help="run the smoke test on the SIMULATED REPL")
    dr.add_argument("--json", action="store_true", help="one JSON document")
    dr.set_defaults(run=_doctor)
    s = sub.add_parser("serve", help="serve editors over LSP (stdio, or a shared socket with --listen)")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--stdio", action="store_true", help="one editor over stdin/stdout (the default)")
    where.add_argument("--listen", metavar="ADDR", help="unix:PATH or tcp:127.0.0.1:PORT (shared daemon)")
    s.add_argument("--idle-timeout", type=float, default=900.0, metavar="S", help="socket mode: stop after S idle")
    s.add_argument("--log-file", metavar="PATH")
    s.add_argument("-v", "--verbose", action="store_true")
    _serve_flags(s)
    _executor_flags(s)
    s.set_defaults(run=_serve)
    c = sub.add_parser("connect", help="bridge stdio to the shared daemon, starting it when needed (for editors)")
    c.add_argument("--socket", metavar="PATH", help="default: a per-user socket under $XDG_RUNTIME_DIR")
    _serve_flags(c)
    c.set_defaults(run=_connect)
    mc = sub.add_parser("mcp", help="serve agents over MCP (stdio), on the shared daemon (starting it when needed)")
    mc.add_argument("--socket", metavar="PATH", help="default: a per-user socket under $XDG_RUNTIME_DIR")
    mc.add_argument(
        "--project", action="append", metavar="PATH",
        help="a Lake project the agent may use (repeatable; default: the working folder's)",
    )  # fmt: skip
    _serve_flags(mc)
    mc.set_defaults(run=_mcp)
    return p


def _bare_simulate(argv: Sequence[str]) -> list[str]:
    """`--simulate` alone means `--simulate=always`: its optional value never takes the next
    word, so `check --simulate examples/demo` checks the folder."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in ("check", "bench"):
        return list(argv)
    return ["--simulate=always" if a == "--simulate" else a for a in argv]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(_bare_simulate(sys.argv[1:] if argv is None else argv))
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("\nlean-batchd: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `lean-batchd ... | head`: stop quietly, as `cat` would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code
