"""`lean-batchd check` and `lean-batchd bench`: elaborate files in their planned warm sessions.

Files run through a running shared daemon when there is one (its warm workers
are reused), else through an engine in this process. `--no-plan` is the naive
path, a fresh worker per file, for comparison; `bench` runs both and compares.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from .engine.checking import CheckReport, CheckTarget, EngineTarget, FileGroup, Progress, check_sessions, plan_sessions
from .engine.engine import Engine, EngineConfig
from .engine.outcome import FileOutcome, FileStatus
from .engine.values import EngineError, ErrorKind
from .lake import LakeProject, discover
from .progress import ProgressView
from .server import methods as m
from .server.client import DaemonClient, DaemonRequestError

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


def select_files(args: list[str]) -> list[str] | str:
    """Lean files named, and the project modules under folders named; or what is wrong."""
    files: list[str] = []
    for arg in args:
        path = Path(arg).resolve()
        if path.is_dir():
            project = discover(path)
            if not isinstance(project, LakeProject):
                return project.diagnostics[-1].render()
            inside = [mod.path for mod in project.local_modules() if Path(mod.path).is_relative_to(path)]
            if not inside:
                return f"{arg}: no modules of project {project.name} there"
            files.extend(inside)
        elif path.is_file() and path.suffix == ".lean":
            files.append(str(path))
        else:
            return f"{arg}: not a Lean file or a folder"
    return sorted(dict.fromkeys(files))


def display(path: str) -> str:
    """Relative to the working directory when inside it, as compilers print paths."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def message_lines(o: FileOutcome) -> list[str]:
    """`path:line:col: severity: text`, Lean's own format (1-based line, 0-based column)."""
    where = display(o.path)
    if o.detail is not None and o.status is not FileStatus.OK:
        return [f"{where}: {o.status}: {o.detail}"]
    return [
        f"{where}:{msg.range.start_line + 1}:{msg.range.start_character}: {msg.severity}: {msg.text}"
        for msg in o.messages
    ]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(report: CheckReport) -> str:
    counts = {k: v for k, v in report.counts().items() if v}
    parts = ", ".join(f"{v} {k}" for k, v in counts.items())
    how = plural(report.sessions, "session") if report.planned else "a fresh worker per file"
    sim = "  [SIMULATED REPL: not Lean]" if report.simulated else ""
    files = plural(len(report.outcomes), "file")
    return f"{files} in {report.elapsed_seconds:.2f} s: {parts} ({how}, jobs {report.jobs}){sim}"


SIMULATED_NOTE = (
    "lean-batchd: SIMULATED: files run on the REPL stand-in, not Lean; messages, timings and memory are simulated"
)


class DaemonTarget:
    """Checks through a running daemon: one connection per lane, so lanes run in parallel."""

    def __init__(self, clients: list[DaemonClient], simulated: bool, options: CheckOptions) -> None:
        self.simulated = simulated
        self.options = options
        self._free: asyncio.Queue[DaemonClient] = asyncio.Queue()
        for client in clients:
            self._free.put_nowait(client)
        self._clients = clients

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        client = await self._free.get()
        try:
            return await asyncio.to_thread(client.request, method, params)
        except DaemonRequestError as e:
            kind = e.data.get("kind") if isinstance(e.data, dict) else None
            return EngineError(ErrorKind(kind) if kind in set(ErrorKind) else ErrorKind.WORKER, str(e))
        finally:
            self._free.put_nowait(client)

    async def ready(self, path: str) -> EngineError | None:
        return None  # the daemon answers each file; a missing REPL is its first answer

    async def session_of(self, path: str) -> tuple[str, str] | EngineError:
        info = await self._call(m.MODULE_INFO, {"textDocument": {"uri": m.uri_of_path(path)}})
        if isinstance(info, EngineError):
            return info
        return info["sessionKey"], " ".join(info["imports"]) or "(no imports)"

    async def check(self, path: str) -> FileOutcome | EngineError:
        params: dict[str, Any] = {"textDocument": {"uri": m.uri_of_path(path)}, "buildCheck": self.options.build_check}
        if self.options.timeout is not None:
            params["timeoutMs"] = max(1, round(self.options.timeout * 1000))
        got = await self._call(m.CHECK, params)
        return got if isinstance(got, EngineError) else FileOutcome.from_json(got)

    async def workers(self) -> tuple[int, float]:
        status = await self._call(m.STATUS, {})
        if isinstance(status, EngineError):
            return 0, 0.0
        pool = status["pool"]
        return sum(1 for w in pool["workers"] if w["state"] in ("warm", "busy")), float(pool["chargedMb"])

    def close(self) -> None:
        for client in self._clients:
            client.close()


def daemon_clients(path: Path, lanes: int) -> tuple[list[DaemonClient], bool] | None:
    """Connections to the daemon on `path` and whether it simulates; None when none runs there."""
    clients: list[DaemonClient] = []
    try:
        for _ in range(lanes):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(path))
            client = DaemonClient(sock)
            client.session()
            clients.append(client)
        status = clients[0].request(m.STATUS, {})
    except (OSError, ConnectionError, DaemonRequestError):
        for client in clients:
            client.close()
        return None
    return clients, bool(status.get("simulated"))


@contextlib.asynccontextmanager
async def target_for(
    options: CheckOptions, engine_config: EngineConfig, daemon: Path | None
) -> AsyncIterator[tuple[CheckTarget, str]]:
    """The shared daemon on `daemon` when one runs there, else an engine of this process."""
    found = await asyncio.to_thread(daemon_clients, daemon, options.jobs) if daemon is not None else None
    if found is not None:
        clients, simulated = found
        target = DaemonTarget(clients, simulated, options)
        try:
            yield target, f"the shared daemon at {daemon}"
        finally:
            await asyncio.to_thread(target.close)
        return
    engine = Engine(engine_config)
    try:
        yield EngineTarget(engine, options.timeout, options.build_check), "workers of this process"
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
) -> CheckReport | EngineError:
    async with target_for(options, pool_for(engine_config, options), daemon) as (target, where):
        problem = await target.ready(files[0])
        if problem is not None:
            return problem
        sessions = await plan_sessions(target, files, options.planned)
        if isinstance(sessions, EngineError):
            return sessions
        if not options.quiet:
            if target.simulated:
                err.write(SIMULATED_NOTE + "\n")
            err.write(plan_text(sessions, options, where))
        view = ProgressView(err, display) if not options.quiet else None

        def progress(p: Progress) -> None:
            if p.outcome is not None:
                if view is not None and view.live:
                    view.close()
                emit(p.outcome, options, out)
            if view is not None:
                view.update(p)

        ticker = asyncio.create_task(_tick(target, view)) if view is not None and view.live else None
        try:
            report = await check_sessions(target, sessions, options.jobs, options.planned, progress)
        finally:
            if ticker is not None:
                ticker.cancel()
            if view is not None:
                view.close()
    if isinstance(report, CheckReport):
        finish(report, options, out, err)
    return report


async def _tick(target: CheckTarget, view: ProgressView) -> None:
    while True:
        warm, memory = await target.workers()
        view.workers(warm, memory)
        await asyncio.sleep(0.5)


def plan_text(sessions: list[FileGroup], options: CheckOptions, where: str) -> str:
    files = sum(len(s.paths) for s in sessions)
    if not options.planned:
        each = f"a fresh worker each (--no-plan), jobs {options.jobs}"
        return f"lean-batchd check: {plural(files, 'file')}, {each}, on {where}\n"
    shared = sum(1 for s in sessions if len(s.paths) > 1)
    lines = [
        f"lean-batchd check: {plural(files, 'file')} in {plural(len(sessions), 'session')} ({shared} shared), "
        f"jobs {options.jobs}, on {where}"
    ]
    for s in sorted(sessions, key=lambda s: -len(s.paths))[:12]:
        names = ", ".join(display(p) for p in s.paths[:4]) + (f" +{len(s.paths) - 4}" if len(s.paths) > 4 else "")
        lines.append(f"  {s.key[:8]}  {len(s.paths):>3} × {s.label[:60]}  ->  {names}")
    if len(sessions) > 12:
        lines.append(f"  ... and {len(sessions) - 12} more sessions")
    return "\n".join(lines) + "\n"


def emit(o: FileOutcome, options: CheckOptions, out: TextIO) -> None:
    if options.output == "jsonl":
        out.write(json.dumps(o.to_json(), ensure_ascii=False) + "\n")
    elif options.output == "text":
        for line in message_lines(o):
            out.write(line + "\n")
    out.flush()


def finish(report: CheckReport, options: CheckOptions, out: TextIO, err: TextIO) -> None:
    if options.output == "json":
        doc = {"files": [o.to_json() for o in report.outcomes], "summary": report.to_json()}
        out.write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    elif options.output == "jsonl":
        out.write(json.dumps({"summary": report.to_json()}) + "\n")
    if options.output == "text" or not options.quiet:
        (out if options.output == "text" else err).write(summary(report) + "\n")


def differences(a: CheckReport, b: CheckReport) -> list[str]:
    """Files whose outcome differs between two runs (timing aside)."""
    theirs = {o.path: o for o in b.outcomes}
    return [display(o.path) for o in a.outcomes if o.path not in theirs or not o.same_result(theirs[o.path])]


async def run_bench(
    files: list[str], options: CheckOptions, engine_config: EngineConfig, err: TextIO = sys.stderr
) -> tuple[CheckReport, CheckReport] | EngineError:
    """Naive, then planned, each on fresh workers of this process (never the shared daemon)."""
    quiet = replace(options, quiet=True, output="none")
    reports: list[CheckReport] = []
    for planned in (False, True):
        err.write(f"lean-batchd bench: {'planned' if planned else 'naive'} ...\n")
        got = await run_check(files, replace(quiet, planned=planned), engine_config, None, err, err)
        if isinstance(got, EngineError):
            return got
        reports.append(got)
    return reports[0], reports[1]
