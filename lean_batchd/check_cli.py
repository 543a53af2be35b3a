"""`check` and `bench` from the command line: their flags, what they check, and where it runs
(the shared daemon, or workers of this process)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import worker_flags
from .terminal import EXIT_FAILED, EXIT_OK, run_interruptible, width, wrap

if TYPE_CHECKING:
    from .check_command import CheckOptions
    from .engine import EngineConfig
    from .engine.values import EngineError
    from .snippet_command import SnippetInput
    from .store.models import OpenedModel


def simulating(args: argparse.Namespace, files: list[str]) -> bool:
    """`--simulate` always; `--simulate=auto` only when no Lean REPL is found for the project of
    the first of `files` (files or folders), and says so. No files: snippets on the bare
    toolchain, whose REPL runs without Lake."""
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


@dataclass(frozen=True, slots=True)
class CheckSetup:
    files: list[str]
    options: CheckOptions
    config: EngineConfig
    broken: bool
    """The configuration of a project of the files has errors (told first; the run exits 1
    whatever the files give, as `lake build` fails on a lakefile it cannot read)."""
    models: dict[Path, OpenedModel]
    """The projects' models as selecting the files opened them: this process's engine takes them
    over instead of opening them again."""


def check_setup(args: argparse.Namespace) -> CheckSetup | int:
    """The files and how to check them; the configuration's errors are told here, with its
    warnings unless `--quiet`."""
    from .check_command import EXIT_NO_FILES, configuration_notes, select_files
    from .lake.diagnostics import Severity

    if not args.paths:
        from .lake.root import find_lake_root

        if find_lake_root(Path.cwd()).found is None:
            print("lean-batchd: give Lean files or folders to check (or --snippets FILE.jsonl)", file=sys.stderr)
            return EXIT_NO_FILES
        args.paths = ["."]  # inside a Lake project: the project's files here, as `lake build` would
    simulate = simulating(args, args.paths)
    options = check_options(args, simulate, "text")  # before engine_config: it sets --jobs as the pool's size
    config = worker_flags.engine_config(args, simulate)
    models: dict[Path, OpenedModel] = {}
    files = select_files(args.paths, models, config.project_options())
    notes = configuration_notes(args.paths if isinstance(files, str) else files)
    for note in notes:
        if note.severity is Severity.ERROR or not args.quiet:
            print(f"lean-batchd: {note.render()}", file=sys.stderr)
    if isinstance(files, str):
        print(f"lean-batchd: {files}", file=sys.stderr)
        return EXIT_NO_FILES
    broken = any(n.severity is Severity.ERROR for n in notes)
    return CheckSetup(files, options, config, broken, models)


def check_options(args: argparse.Namespace, simulate: bool, output: str) -> CheckOptions:
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


def snippet_setup(args: argparse.Namespace) -> tuple[SnippetInput, CheckOptions, EngineConfig] | int:
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
    simulate = simulating(args, [str(got.folder)] if got.folder is not None else [])
    return got, check_options(args, simulate, "jsonl"), worker_flags.engine_config(args, simulate)


def failed_to_start(error: EngineError) -> int:
    from .check_command import EXIT_NO_FILES, EXIT_NO_LEAN
    from .engine.values import ErrorKind

    hint = " (or try the pipeline on the REPL stand-in with --simulate)" if error.kind is ErrorKind.NO_REPL else ""
    print(f"lean-batchd: {error.message}{hint}", file=sys.stderr)
    if error.kind is ErrorKind.NO_DAEMON:
        return EXIT_FAILED
    return EXIT_NO_LEAN if error.kind in (ErrorKind.NO_REPL, ErrorKind.REPL_MISMATCH) else EXIT_NO_FILES


def check(args: argparse.Namespace) -> int:
    from .check_command import run_check
    from .engine.values import EngineError
    from .executors import ExecutorUnavailable

    if args.snippets is not None:
        return check_snippets(args)
    setup = check_setup(args)
    if isinstance(setup, int):
        return setup
    daemon = None if args.executor != "local" else daemon_for(args, setup.config.simulated)
    try:
        report = run_interruptible(run_check(setup.files, setup.options, setup.config, daemon, models=setup.models))
    except ExecutorUnavailable as e:
        print(f"lean-batchd: {e}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(report, EngineError):
        return failed_to_start(report)
    return EXIT_FAILED if report.failed or setup.broken else EXIT_OK


def daemon_for(args: argparse.Namespace, simulated: bool) -> Path | None:
    """The shared daemon's socket `check` tries first, unless told otherwise or given worker limits:
    a running daemon's workers keep the limits it started with, so those run in this process."""
    from .server.address import default_socket

    if args.no_daemon or args.no_plan:
        return None
    path = Path(args.socket) if args.socket else default_socket(simulated)
    given = worker_flags.worker_settings(args) + (
        [("--sim-memory-mb-per-command", 0)] if args.sim_memory_mb_per_command else []
    )
    if not given:
        if args.sim_import_seconds is not None and path.exists():
            note = (
                "lean-batchd: --sim-import-seconds applies to workers this check starts; the shared "
                "daemon's stand-in keeps its own (--no-daemon to use it here)"
            )
            print(wrap(note, width(sys.stderr)), file=sys.stderr)
        return path
    if path.exists():
        flags = ", ".join(flag for flag, _ in given)
        print(f"lean-batchd: {flags} given: checking with workers of this process (the shared daemon keeps its own)",
              file=sys.stderr)  # fmt: skip
    return None


def check_snippets(args: argparse.Namespace) -> int:
    from .check_command import EXIT_NO_FILES
    from .engine.values import EngineError
    from .snippet_command import run_snippets, write_invalid

    setup = snippet_setup(args)
    if isinstance(setup, int):
        return setup
    given, options, config = setup
    if not given.snippets:
        write_invalid(given.invalid, sys.stdout)
        print("lean-batchd: no snippet to check", file=sys.stderr)
        return EXIT_NO_FILES
    daemon = daemon_for(args, config.simulated)
    report = run_interruptible(run_snippets(given.snippets, given.invalid, given.folder, options, config, daemon))
    if isinstance(report, EngineError):
        return failed_to_start(report)
    return EXIT_FAILED if report.failed else EXIT_OK


def bench(args: argparse.Namespace) -> int:
    from .check_command import EXIT_NO_FILES, differences, run_bench
    from .engine.values import EngineError
    from .snippet_command import SnippetInput, not_snippets, run_snippet_bench

    setup = snippet_setup(args) if args.snippets is not None else check_setup(args)
    if isinstance(setup, int):
        return setup
    items, options, config = (setup.files, setup.options, setup.config) if isinstance(setup, CheckSetup) else setup
    noun = "file"
    if isinstance(items, SnippetInput):
        noun = "snippet"
        if not items.snippets:
            print("lean-batchd: no snippet to check", file=sys.stderr)
            return EXIT_NO_FILES
        if items.invalid:
            print(
                f"lean-batchd: {not_snippets(len(items.invalid))}: skipped (`check --snippets` lists them)",
                file=sys.stderr,
            )
        pair = run_interruptible(run_snippet_bench(items.snippets, items.folder, options, config, sys.stderr))
        got = pair if isinstance(pair, EngineError) else (pair[0].report, pair[1].report)
        count = len(items.snippets)
    else:
        got = run_interruptible(run_bench(items, options, config))
        count = len(items)
    if isinstance(got, EngineError):
        return failed_to_start(got)
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


def check_flags(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("-j", "--jobs", type=worker_flags.at_least_one, default=2, help="sessions run at once (default 2)")
    p.add_argument(
        "--simulate", choices=["always", "auto"], metavar="[=auto]",
        help="run the SIMULATED REPL instead of Lean; --simulate=auto: only when no Lean REPL is found",
    )  # fmt: skip
    p.add_argument("--timeout", type=float, metavar="S", help="per file")
    p.add_argument(
        "--build-check", action=argparse.BooleanOptionalAction, default=None,
        help="refuse files whose imports have a missing or stale .olean (default: on, off when simulated)",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no plan, progress or configuration warnings on stderr")
    p.add_argument(
        "--color", choices=["auto", "always", "never"], default="auto",
        help="colour severities and outcomes (auto: on a terminal, unless NO_COLOR is set)",
    )  # fmt: skip
    worker_flags.worker_flags(p)
    worker_flags.executor_flags(p)
