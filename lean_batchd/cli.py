"""The `lean-batchd` command line.

Each command imports what it uses when it runs: `--version`, `discover` and
`plan` load neither the engine, the pool nor pygls and lsprotocol, which only
`serve` needs (`check` and `connect` talk to the daemon with our own small
client), so a command starts in tens of milliseconds, not a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import __version__, check_cli, model_commands, worker_flags
from .terminal import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_PROJECT,
    EXIT_OK,
    EXIT_USAGE,
    json_doc,
    missing,
)

if TYPE_CHECKING:
    import socket


T = TypeVar("T")


def _log_to(path: str | None, verbose: bool) -> None:
    import logging

    logging.basicConfig(
        filename=path,
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)


def _stdio_unusable() -> str | None:
    """Why stdin/stdout cannot carry LSP (a file, say, as in `serve > log &`), if so."""
    import stat

    for fd, name in ((0, "stdin"), (1, "stdout")):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return f"{name} is closed"
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            return f"{name} is a {'file' if stat.S_ISREG(mode) else 'folder' if stat.S_ISDIR(mode) else 'special file'}"
    return None


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .engine import Engine
    from .server.daemon import DaemonError, serve_socket, serve_stdio  # pygls: only where LSP is served

    unusable = None if args.listen else _stdio_unusable()
    if unusable is not None:
        print(
            f"lean-batchd serve: LSP over stdin/stdout needs pipes, but {unusable}. To start the shared "
            "daemon in the background, run `lean-batchd start` (editors and `check` then use it).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _log_to(args.log_file, args.verbose)
    from .executors import ExecutorUnavailable

    engine = Engine(worker_flags.engine_config(args, args.simulate))
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


def _shared_daemon(args: argparse.Namespace, command: str) -> tuple[Path, socket.socket] | int:
    """A connection to the shared daemon, started in the background if none answers."""
    from .server.address import default_socket
    from .server.bridge import open_daemon

    path = Path(args.socket) if args.socket else default_socket(args.simulate)
    got = open_daemon(path, worker_flags.serve_args(args))
    if isinstance(got, str):
        print(f"lean-batchd {command}: {got}", file=sys.stderr)
        return EXIT_FAILED
    return path, got


def _connect(args: argparse.Namespace) -> int:
    from .server.bridge import bridge

    got = _shared_daemon(args, "connect")
    return got if isinstance(got, int) else bridge(got[1])


def _start(args: argparse.Namespace) -> int:
    """The shared daemon, started in the background if none answers (as `connect` and `mcp` do)."""
    got = _shared_daemon(args, "start")
    if isinstance(got, int):
        return got
    path, connection = got
    connection.close()
    kind = "SIMULATED daemon" if args.simulate else "daemon"
    print(f"the {kind} answers on {path} (`lean-batchd status` shows it, `lean-batchd stop` stops it)")
    return EXIT_OK


def _mcp(args: argparse.Namespace) -> int:
    try:
        from .mcp.server import command  # the MCP SDK: only for this command
    except ImportError as e:
        print(f"lean-batchd mcp needs the MCP SDK ({e}): pip install 'lean-batchd[mcp]'", file=sys.stderr)
        return EXIT_FAILED
    from .server.address import default_socket

    path = Path(args.socket) if args.socket else default_socket(args.simulate)
    return command(path, args.project, worker_flags.serve_args(args))


def _doctor(args: argparse.Namespace) -> int:
    """What running real Lean here needs, found or not, and a smoke test of the REPL when there
    is one: editors' health checks call this."""
    import asyncio

    from .daemon_commands import running
    from .doctor import repl_report, smoke_test
    from .lake import LakeProject, ProjectOptions, WorkspaceOptions, discover
    from .server.address import default_socket
    from .testing import simulated_repl_command

    if (problem := missing(args.path)) is not None:
        print(f"lean-batchd: {problem}", file=sys.stderr)
        return EXIT_NO_PROJECT
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
        absent = "; ".join(d.render() for d in found.diagnostics)
        report["project"] = {"missing": absent}
        lines.append(f"project: none: {absent}")
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
    sys.stdout.write(json_doc(doc))


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
    check_cli.check_flags(ch)
    fmt = ch.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON document")
    fmt.add_argument("--jsonl", action="store_true", help="a JSON line per file as it finishes, then a summary")
    ch.add_argument("--no-plan", action="store_true", help="naive: a fresh worker per file (for comparison)")
    ch.add_argument("--no-daemon", action="store_true", help="use workers of this process, not the shared daemon's")
    ch.add_argument("--socket", metavar="PATH", help="the shared daemon's socket (default: the per-user one)")
    ch.set_defaults(run=check_cli.check)
    be = sub.add_parser("bench", help="check naive and planned, compare times and outcomes")
    check_cli.check_flags(be)
    be.set_defaults(run=check_cli.bench, json=False, jsonl=False, no_plan=False)
    d = sub.add_parser("discover", help="find a Lake project's modules, imports and fingerprints")
    d.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    d.add_argument("--roots", nargs="+", metavar="ROOT", help="only these module roots")
    d.add_argument("--json", action="store_true", help="one JSON document")
    _store_flag(d)
    d.set_defaults(run=model_commands.discover_command)
    pl = sub.add_parser("plan", help="group a project's modules into batches by the session that serves them")
    pl.add_argument(
        "path", nargs="?", default=".",
        help="the project's root (the whole project), or a folder or file in it (the sessions `check PATH` runs)",
    )  # fmt: skip
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
    pl.set_defaults(run=model_commands.plan_command)
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
    worker_flags.serve_flags(s)
    worker_flags.executor_flags(s)
    s.set_defaults(run=_serve)
    st = sub.add_parser(
        "start", help="start the shared daemon in the background (it stops after 15 minutes without clients)"
    )
    st.add_argument("--socket", metavar="PATH", help="default: a per-user socket under $XDG_RUNTIME_DIR")
    worker_flags.serve_flags(st)
    st.set_defaults(run=_start)
    c = sub.add_parser("connect", help="bridge stdio to the shared daemon, starting it when needed (for editors)")
    c.add_argument("--socket", metavar="PATH", help="default: a per-user socket under $XDG_RUNTIME_DIR")
    worker_flags.serve_flags(c)
    c.set_defaults(run=_connect)
    mc = sub.add_parser("mcp", help="serve agents over MCP (stdio), on the shared daemon (starting it when needed)")
    mc.add_argument("--socket", metavar="PATH", help="default: a per-user socket under $XDG_RUNTIME_DIR")
    mc.add_argument(
        "--project", action="append", metavar="PATH",
        help="a Lake project the agent may use (repeatable; default: the working folder's)",
    )  # fmt: skip
    worker_flags.serve_flags(mc)
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
