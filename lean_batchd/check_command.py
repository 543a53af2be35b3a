"""`lean-batchd check` and `lean-batchd bench`: elaborate files in their planned warm sessions.

Files run through a running shared daemon when there is one (its warm workers
are reused), else through an engine in this process. `--no-plan` is the naive
path, a fresh worker per file, for comparison; `bench` runs both and compares.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from .engine.checking import (
    CheckReport,
    CheckTarget,
    EngineTarget,
    FileGroup,
    Progress,
    check_sessions,
    plan_sessions,
)
from .engine.config import EngineConfig
from .engine.engine import Engine
from .engine.outcome import FileOutcome, FileStatus
from .engine.values import EngineError
from .lake import ProjectOptions, WorkspaceOptions
from .lake.diagnostics import Diagnostic, Severity
from .lake.root import LakeRoot, find_lake_root
from .lake.workspace import load_workspace
from .progress import ProgressView
from .server import methods as m
from .server.address import UnsafePath
from .server.client import AsyncDaemonClient, DaemonRequestError, project_roots
from .server.daemon_target import DaemonTarget
from .store.models import OpenedModel, open_project
from .terminal import (
    PLAIN,
    SEVERITY_COLOUR,
    STATUS_COLOUR,
    Palette,
    display,
    fit,
    json_doc,
    json_text,
    missing,
    palette,
    plural,
    width,
    wrap,
)

EXIT_NO_FILES = 2
EXIT_NO_LEAN = 3


@dataclass(frozen=True, slots=True)
class CheckOptions:
    jobs: int = 2
    planned: bool = True
    output: str = "text"
    """`text`, `json` (one document) or `jsonl` (a line per file, then a summary line)."""
    build_check: bool = True
    timeout: float | None = None
    quiet: bool = False
    color: str = "auto"
    """`auto`, `always` or `never` (see `terminal.palette`)."""
    cache: bool = True
    """Answer files from the project's store when nothing their outcome depends on changed."""


def select_files(
    args: list[str], models: dict[Path, OpenedModel] | None = None, options: ProjectOptions | None = None
) -> list[str] | str:
    """Lean files named, and the project modules under folders named (from the model the
    project's store keeps, as `discover` and `plan` open it); or what is wrong. With `models`,
    the models opened for folders (with `options`: the engine's `project_options()`) are left
    there by root, unsaved, for that engine to take over and store with its plan."""
    files: list[str] = []
    opened_here = {} if models is None else models
    how = options or ProjectOptions(workspace=WorkspaceOptions(query_lean_version=True))
    for arg in args:
        if (problem := missing(arg)) is not None:
            return problem
        path = Path(arg).resolve()
        if path.is_dir():
            search = find_lake_root(path)
            if search.found is None:
                return search.diagnostics[-1].render()
            opened = opened_here.get(search.found.root)
            if opened is None:
                found = open_project(path, how, save=models is None)
                if not isinstance(found, OpenedModel):
                    return found.diagnostics[-1].render()
                opened = opened_here[search.found.root] = found
            project = opened.project
            inside = [mod.path for mod in project.modules_under(path)]
            if not inside:
                return f"{arg}: no modules of project {project.name} there"
            files.extend(inside)
        elif path.is_file() and path.suffix == ".lean":
            search = find_lake_root(path)
            if search.found is None:  # said here, so that the daemon and a private pool say it alike
                return search.diagnostics[-1].message
            files.append(str(path))
        else:
            return f"{arg}: not a Lean file or a folder"
    return sorted(dict.fromkeys(files))


def configuration_notes(paths: Sequence[str]) -> list[Diagnostic]:
    """The errors and warnings of the configuration of the projects `paths` lie in (a lakefile
    that does not parse, options only Lean can evaluate, a missing package), paths as `display`
    shows them: outcomes rest on it, and without it a broken lakefile shows only as files that
    failed. Reads the configuration alone (lakefiles, manifest, toolchain file), not the modules."""
    roots: dict[Path, LakeRoot] = {}
    for folder in {
        Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in paths if missing(p) is None
    }:
        found = find_lake_root(folder).found
        if found is not None:
            roots.setdefault(found.root, found)
    notes: list[Diagnostic] = []
    for root in roots.values():
        for d in load_workspace(root, WorkspaceOptions(query_lean_version=False)).diagnostics:
            if d.severity in (Severity.ERROR, Severity.WARNING):
                notes.append(d if d.path is None else replace(d, path=display(d.path)))
    return notes


def message_lines(o: FileOutcome, paint: Palette = PLAIN) -> list[str]:
    """`path:line:col: severity: text`, Lean's own format (1-based line, 0-based column)."""
    where = display(o.path)
    if o.detail is not None and o.status is not FileStatus.OK:
        return [f"{where}: {paint.paint(str(o.status), STATUS_COLOUR.get(o.status))}: {o.detail}"]
    missed = o.options.not_applied if o.options is not None else ()
    return [f"{where}: note: Lake's option {name} is not set: {why}" for name, why in missed] + [
        f"{where}:{msg.range.start_line + 1}:{msg.range.start_character}: "
        f"{paint.paint(msg.severity, SEVERITY_COLOUR.get(msg.severity))}: {msg.text}"
        for msg in o.messages
    ]


def summary(report: CheckReport, paint: Palette = PLAIN, noun: str = "file") -> str:
    counts = {k: v for k, v in report.counts().items() if v}
    parts = ", ".join(paint.paint(f"{v} {k}", STATUS_COLOUR.get(k)) for k, v in counts.items())
    cached = sum(1 for o in report.outcomes if o.cached)
    if cached:
        parts += f", {cached} cached"
    how = plural(report.sessions, "session") if report.planned else f"a fresh worker per {noun}"
    sim = "  [SIMULATED REPL: not Lean]" if report.simulated else ""
    files = plural(len(report.outcomes), noun)
    return f"{files} in {report.elapsed_seconds:.2f} s: {parts} ({how}, jobs {report.jobs}){sim}"


def build_advice(report: CheckReport, noun: str = "file") -> str | None:
    """One closing hint for every file left unchecked for want of a build."""
    waiting = [o for o in report.outcomes if o.status is FileStatus.BUILD_FIRST]
    if not waiting:
        return None
    return (
        f"{plural(len(waiting), noun)} not checked: their imports need building first. Run `lake build` in the "
        "project (for Mathlib or a project that depends on it, `lake exe cache get` first), then check again."
    )


SIMULATED_NOTE = (
    "lean-batchd: SIMULATED: Lean runs on the REPL stand-in, not Lean; messages, timings and memory are simulated"
)


async def connect_daemon(path: Path, folders: list[Path]) -> tuple[AsyncDaemonClient, bool] | None:
    """A connection to the daemon on `path` (with `folders` as its workspace) and whether it
    simulates; None when none answers there, or when its socket is not safely this user's."""
    try:
        client = await AsyncDaemonClient.open(path, folders=folders)
    except (OSError, ConnectionError, DaemonRequestError):
        return None
    except UnsafePath as e:
        print(f"lean-batchd: not using the daemon at {path}: {e}", file=sys.stderr)
        return None
    try:
        status = await client.request(m.STATUS, {})
    except (ConnectionError, DaemonRequestError):
        client.abort()
        return None
    return client, bool(status.get("simulated"))


@contextlib.asynccontextmanager
async def target_for(
    options: CheckOptions,
    engine_config: EngineConfig,
    daemon: Path | None,
    folders: list[Path],
    models: dict[Path, OpenedModel] | None = None,
) -> AsyncIterator[tuple[DaemonTarget | EngineTarget, str]]:
    """The shared daemon on `daemon` when one runs there (serving `folders`), else an engine of
    this process (taking over `models`, already opened)."""
    found = await connect_daemon(daemon, folders) if daemon is not None else None
    if found is not None:
        if models is not None:
            models.clear()  # the daemon has its own: these need not live through the run
        client, simulated = found
        finished = False
        try:
            yield (
                DaemonTarget(client, simulated, options.build_check, options.timeout, options.cache),
                f"the shared daemon at {daemon}",
            )
            finished = True
        finally:
            if finished:
                await client.close()
            else:  # interrupted: drop the connection, which cancels our requests in the daemon
                client.abort()
        return
    engine = Engine(engine_config, models)
    try:
        yield EngineTarget(engine, options.timeout, options.build_check, options.cache), "workers of this process"
    finally:
        await engine.close()


def pool_for(engine_config: EngineConfig, options: CheckOptions) -> EngineConfig:
    """At most `jobs` workers; on the naive path each one retires after a single file."""
    pool = replace(engine_config.pool, max_workers=options.jobs)
    if not options.planned:
        pool = replace(pool, max_workers_per_key=options.jobs, max_requests=1)
    return replace(engine_config, pool=pool, watch=False, verify_interval=None, prewarm_on_open=False)


async def run_check(
    files: list[str],
    options: CheckOptions,
    engine_config: EngineConfig,
    daemon: Path | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    models: dict[Path, OpenedModel] | None = None,
) -> CheckReport | EngineError:
    """`models`: the projects' models as `select_files` opened them, for this process's engine."""
    config = pool_for(engine_config, options)
    async with target_for(options, config, daemon, project_roots(files), models) as (target, where):
        out_paint = palette(out, options.color)
        report = await run_items(target, files, options, where, lambda o: emit(o, options, out, out_paint), err)
    if isinstance(report, CheckReport):
        finish(report, options, out, err)
    return report


async def run_items(
    target: CheckTarget,
    items: list[str],
    options: CheckOptions,
    where: str,
    emit_one: Callable[[FileOutcome], None],
    err: TextIO,
    noun: str = "file",
    show: Callable[[str], str] = display,
) -> CheckReport | EngineError:
    """Plan `items` (files, or snippets through a `SnippetTarget`), show the plan and progress on
    `err`, check them, and hand each outcome to `emit_one` as it comes."""
    problem = await target.ready(items[0])
    if problem is not None:
        return problem
    sessions = await plan_sessions(target, items, options.planned)
    if isinstance(sessions, EngineError):
        return sessions
    err_paint = palette(err, options.color)
    if not options.quiet:
        if target.simulated:
            err.write(err_paint.paint(wrap(SIMULATED_NOTE, width(err)), "yellow") + "\n")
        err.write(plan_text(sessions, options, where, width(err), noun, show))
    view = ProgressView(err, show, err_paint, noun) if not options.quiet else None

    def progress(p: Progress) -> None:
        if p.outcome is not None:
            if view is not None and view.live:
                view.close()
            emit_one(p.outcome)
        if view is not None:
            view.update(p)

    ticker = asyncio.create_task(_tick(target, view)) if view is not None and view.live else None
    try:
        return await check_sessions(target, sessions, options.jobs, options.planned, progress)
    finally:
        if ticker is not None:
            ticker.cancel()
        if view is not None:
            view.close()


async def _tick(target: CheckTarget, view: ProgressView) -> None:
    while True:
        warm, memory = await target.workers()
        view.workers(warm, memory)
        await asyncio.sleep(0.5)


def plan_text(
    sessions: list[FileGroup],
    options: CheckOptions,
    where: str,
    columns: int | None = None,
    noun: str = "file",
    show: Callable[[str], str] = display,
) -> str:
    """The plan as `check` shows it before it starts, each line cut to the terminal's width;
    `noun` names the items (files, snippets) and `show` shows one."""
    files = sum(len(s.paths) for s in sessions)
    if not options.planned:
        each = f"a fresh worker each (--no-plan), jobs {options.jobs}"
        return fit(f"lean-batchd check: {plural(files, noun)}, {each}, on {where}", columns) + "\n"
    shared = sum(1 for s in sessions if len(s.paths) > 1)
    lines = [
        f"lean-batchd check: {plural(files, noun)} in {plural(len(sessions), 'session')} ({shared} shared), "
        f"jobs {options.jobs}, on {where}"
    ]
    for s in sorted(sessions, key=lambda s: -len(s.paths))[:12]:
        names = ", ".join(show(p) for p in s.paths[:4]) + (f" +{len(s.paths) - 4}" if len(s.paths) > 4 else "")
        lines.append(f"  session {s.key[:8]}  {len(s.paths):>3} × {s.label}  ->  {names}")
    if len(sessions) > 12:
        lines.append(f"  ... and {plural(len(sessions) - 12, 'more session')}")
    return "".join(fit(line, columns) + "\n" for line in lines)


def emit(o: FileOutcome, options: CheckOptions, out: TextIO, paint: Palette = PLAIN) -> None:
    if options.output == "jsonl":
        out.write(json_text(o.to_json()) + "\n")
    elif options.output == "text":
        for line in message_lines(o, paint):
            out.write(line + "\n")
    out.flush()


def finish(report: CheckReport, options: CheckOptions, out: TextIO, err: TextIO) -> None:
    if options.output == "json":
        doc = {"files": [o.to_json() for o in report.outcomes], "summary": report.to_json()}
        out.write(json_doc(doc))
    elif options.output == "jsonl":
        out.write(json_text({"summary": report.to_json()}) + "\n")
    if options.output == "text" or not options.quiet:
        stream = out if options.output == "text" else err
        finish_summary(report, stream, palette(stream, options.color))


def finish_summary(report: CheckReport, stream: TextIO, paint: Palette, noun: str = "file") -> None:
    """The closing lines: the build hint, if any, and the summary."""
    advice = build_advice(report, noun)
    if advice is not None:
        stream.write(wrap(advice, width(stream)) + "\n")
    stream.write(wrap(summary(report, paint, noun), width(stream)) + "\n")


def differences(a: CheckReport, b: CheckReport) -> list[str]:
    """Files whose outcome differs between two runs (timing aside)."""
    theirs = {o.path: o for o in b.outcomes}
    return [display(o.path) for o in a.outcomes if o.path not in theirs or not o.same_result(theirs[o.path])]


async def run_bench(
    files: list[str], options: CheckOptions, engine_config: EngineConfig, err: TextIO = sys.stderr
) -> tuple[CheckReport, CheckReport] | EngineError:
    """Naive, then planned, each on fresh workers of this process (never the shared daemon)."""
    quiet = replace(options, quiet=True, output="none", cache=False)  # compare elaborations, not lookups
    reports: list[CheckReport] = []
    for planned in (False, True):
        err.write(f"lean-batchd bench: {'planned' if planned else 'naive'} ...\n")
        got = await run_check(files, replace(quiet, planned=planned), engine_config, None, err, err)
        if isinstance(got, EngineError):
            return got
        reports.append(got)
    return reports[0], reports[1]
