"""The MCP tools: each a daemon request (or a planned run of many), shaped for agents.

A tool answers a `CallToolResult`: on success its model (`shapes`) as structured content and
the same JSON as text; on failure `isError` with `{"error": {"kind", "message"}}`, whose kind is
the engine's (`no-project`, `no-repl`, `worker`, `no-daemon`, ...) or the front end's
(`invalid-arguments`, `outside-workspace`, `not-found`, `timeout`). Long calls report MCP
progress; a cancelled call cancels its daemon requests, which frees the worker as the pool's
cancellation rules say (killed and replaced when it was running).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from mcp_types import CallToolResult
from pydantic import Field

from ..engine.checking import CheckReport, CheckTarget, Progress, SnippetTarget, check_sessions, plan_sessions
from ..engine.values import EngineError
from ..lake.files import read_text
from ..lake.header import parse_header_text
from ..plan.keys import header_imports
from ..server import methods as m
from ..server.daemon_target import DaemonTarget
from ..workers.protocol import Message as ReplMessage
from ..workers.protocol import Sorry as ReplSorry
from .calls import (
    BuildCheck,
    Cache,
    Jobs,
    LeanContext,
    MaxMessages,
    Project,
    SnippetIn,
    Timeout,
    answer,
    failure,
    header_only,
    lean_file,
    link_of,
    project_folder,
    relayed,
    resolved,
)
from .link import DaemonLink, ToolErrorKind, ToolFailure
from .shapes import (
    Batch,
    CheckOutput,
    Failure,
    FileResult,
    ModuleInfoOutput,
    PlanOutput,
    PrewarmOutput,
    RunOutput,
    SnippetResult,
    SnippetsOutput,
    Sorry,
    StatusOutput,
    Summary,
    Worker,
    bounded,
    failures_first,
    outcome_fields,
    repl_messages,
)


async def _run_checks(
    ctx: LeanContext, target: CheckTarget, items: list[str], jobs: int, show: Callable[[str], str]
) -> CheckReport | ToolFailure:
    sessions = await plan_sessions(target, items, True)
    if isinstance(sessions, EngineError):
        return ToolFailure.of(sessions)
    async with relayed(ctx) as report:
        report(0, len(items), f"{len(items)} in {len(sessions)} sessions")

        def progress(p: Progress) -> None:
            if p.outcome is not None:
                report(p.done, p.total, f"{show(p.outcome.path)}: {p.outcome.status}")

        got = await check_sessions(target, sessions, jobs, True, progress)
    return ToolFailure.of(got) if isinstance(got, EngineError) else got


def _shown(link: DaemonLink, path: str) -> str:
    """A file as progress names it: relative to its project (`Algebra.lean` alone is ambiguous)."""
    project = link.project_of(path)
    return str(Path(path).relative_to(project)) if project is not None and Path(path).is_relative_to(project) else path


def _summary(report: CheckReport) -> Summary:
    return Summary(
        count=len(report.outcomes),
        statuses={k: v for k, v in report.counts().items() if v},
        cached=sum(1 for o in report.outcomes if o.cached),
        sessions=report.sessions,
        jobs=report.jobs,
        elapsedMs=round(report.elapsed_seconds * 1000, 1),
        simulated=report.simulated,
    )


async def _target(
    link: DaemonLink, jobs: int, build_check: bool | None, timeout: float | None, cache: bool
) -> DaemonTarget | ToolFailure:
    """Checks through the daemon; the build check is on by default, off on the SIMULATED REPL
    (which loads no `.olean`), as for `lean-batchd check`."""
    client = await link.client()
    if isinstance(client, ToolFailure):
        return client
    check = build_check if build_check is not None else not link.simulated
    return DaemonTarget(client, link.simulated, check, timeout, cache)


async def _files(link: DaemonLink, paths: list[str]) -> list[str] | ToolFailure:
    """The Lean files named, and the project modules under the folders named (the daemon's model)."""
    files: list[str] = []
    for path in paths:
        got = resolved(link, path)
        if isinstance(got, ToolFailure):
            return got
        absolute, project = got
        if absolute.is_dir():
            modules = await link.request(m.MODULES, {"uri": project.as_uri()})
            if isinstance(modules, ToolFailure):
                return modules
            under = [m.path_of_uri(mod["uri"]) for mod in modules]
            inside = [p for p in under if Path(p).resolve().is_relative_to(absolute.resolve())]
            if not inside:
                return ToolFailure(ToolErrorKind.NOT_FOUND, f"{path}: no modules of the project there")
            files.extend(inside)
        elif absolute.suffix == ".lean":
            files.append(str(absolute))
        else:
            return ToolFailure(ToolErrorKind.INVALID_ARGUMENTS, f"{path}: not a Lean file or a folder")
    return sorted(dict.fromkeys(files))


def _lines(path: str) -> list[str] | None:
    text = read_text(path)
    return text.split("\n") if isinstance(text, str) else None


async def lean_check(
    ctx: LeanContext,
    paths: Annotated[list[str], Field(description="Lean files, or folders (their project's modules)", min_length=1)],
    timeout_seconds: Timeout = None,
    build_check: BuildCheck = None,
    cache: Cache = True,
    jobs: Jobs = 2,
    max_files: Annotated[int, Field(description="files listed (failures first)", ge=1, le=10000)] = 100,
    max_messages: MaxMessages = 20,
) -> Annotated[CallToolResult, CheckOutput]:
    """Elaborate Lean files as `lake build` would see them, each in its header's warm session
    (shared with the user's editors): per-file status and messages."""
    link = link_of(ctx)
    files = await _files(link, paths)
    if isinstance(files, ToolFailure):
        return answer(files)
    target = await _target(link, jobs, build_check, timeout_seconds, cache)
    if isinstance(target, ToolFailure):
        return answer(target)
    report = await _run_checks(ctx, target, files, jobs, lambda p: _shown(link, p))
    if isinstance(report, ToolFailure):
        return answer(report)
    shown, omitted = failures_first(report.outcomes, max_files)
    results = [
        FileResult(path=o.path, module=o.module, **outcome_fields(o, _lines(o.path), max_messages)) for o in shown
    ]
    return answer(CheckOutput(files=results, omittedFiles=omitted, summary=_summary(report)))


async def lean_check_snippets(
    ctx: LeanContext,
    snippets: Annotated[list[SnippetIn], Field(description="pieces of Lean, each with its own header", min_length=1)],
    project: Project = None,
    timeout_seconds: Timeout = None,
    build_check: BuildCheck = None,
    cache: Cache = True,
    jobs: Jobs = 2,
    max_snippets: Annotated[int, Field(description="snippets listed (failures first)", ge=1, le=10000)] = 100,
    max_messages: MaxMessages = 20,
) -> Annotated[CallToolResult, SnippetsOutput]:
    """Check many snippets (`{id, code}`, Lean text with its own header) in planned warm sessions:
    snippets with equal headers share one import. Per-id status and messages."""
    link = link_of(ctx)
    repeated = sorted(name for name, count in Counter(s.id for s in snippets).items() if count > 1)
    if repeated:
        return failure(ToolErrorKind.INVALID_ARGUMENTS, f"ids given more than once: {', '.join(repeated[:10])}")
    folder = project_folder(link, project)
    if isinstance(folder, ToolFailure):
        return answer(folder)
    door = await _target(link, jobs, build_check, timeout_seconds, cache)
    if isinstance(door, ToolFailure):
        return answer(door)
    codes = {s.id: s.code for s in snippets}
    target = SnippetTarget(door, codes, None if folder is None else str(folder))
    report = await _run_checks(ctx, target, list(codes), jobs, str)
    if isinstance(report, ToolFailure):
        return answer(report)
    order = {s.id: i for i, s in enumerate(snippets)}
    ordered = sorted(report.outcomes, key=lambda o: order[o.path])
    shown, omitted = failures_first(ordered, max_snippets)
    results = [SnippetResult(id=o.path, **outcome_fields(o, codes[o.path].split("\n"), max_messages)) for o in shown]
    return answer(SnippetsOutput(snippets=results, omittedSnippets=omitted, summary=_summary(report)))


def _run_output(doc: dict[str, Any], imports: list[str], project: Path | None, limit: int) -> RunOutput:
    reply = doc.get("reply") or {}
    messages, omitted = repl_messages([ReplMessage.from_json(x) for x in reply.get("messages", [])], limit)
    sorries = [ReplSorry.from_json(x) for x in reply.get("sorries", [])]
    failed = doc.get("failure")
    options = doc.get("options") or {}
    return RunOutput(
        messages=messages,
        omittedMessages=omitted,
        sorries=[
            Sorry(
                goal=bounded(s.goal),
                line=s.pos.line if s.pos else None,
                column=s.pos.column if s.pos else None,
                proofState=s.proof_state,
            )
            for s in sorries[:limit]
        ],
        omittedSorries=max(0, len(sorries) - limit),
        env=reply.get("env"),
        failure=None if failed is None else Failure(kind=failed["kind"], message=bounded(failed["message"])),
        sessionKey=doc["sessionKey"],
        imports=imports,
        project=None if project is None else str(project),
        optionsApplied=list(options.get("applied", [])),
        optionsNotApplied=[f"{o['name']}: {o['reason']}" for o in options.get("notApplied", [])],
        elapsedMs=doc["elapsedMs"],
        simulated=doc["simulated"],
    )


async def lean_run(
    ctx: LeanContext,
    code: Annotated[str, Field(description="Lean commands to elaborate (no header)")],
    path: Annotated[str | None, Field(description="run on this file's imports (its header session)")] = None,
    header: Annotated[str | None, Field(description="or on this header instead, e.g. `import Mathlib`")] = None,
    project: Project = None,
    timeout_seconds: Annotated[float | None, Field(description="seconds (default: none)", gt=0)] = None,
    max_messages: MaxMessages = 50,
) -> Annotated[CallToolResult, RunOutput]:
    """Run Lean code in the warm session of a file's imports, or of an explicit header: its
    messages (positions relative to `code`), sorries with their goals, and the session it ran in."""
    link = link_of(ctx)
    if (path is None) == (header is None):
        return failure(ToolErrorKind.INVALID_ARGUMENTS, "give either `path` or `header`")
    timeout = {} if timeout_seconds is None else {"timeoutMs": max(1, round(timeout_seconds * 1000))}
    folder: Path | None
    if path is not None:
        got = lean_file(link, path)
        if isinstance(got, ToolFailure):
            return answer(got)
        file, folder = got
        text = read_text(str(file))
        imports = parse_header_text(text if isinstance(text, str) else "").imports
        params: dict[str, Any] = {"textDocument": {"uri": file.as_uri()}, "command": code, **timeout}
        method = m.RUN
    else:
        assert header is not None
        where = project_folder(link, project)
        if isinstance(where, ToolFailure):
            return answer(where)
        folder = where
        parsed = header_only(header)
        if isinstance(parsed, ToolFailure):
            return answer(parsed)
        imports = parsed.imports
        params = {"header": header, "command": code, **timeout}
        if folder is not None:
            params["uri"] = folder.as_uri()
        method = m.RUN_SNIPPET
    await ctx.report_progress(0, 1, "running")
    doc = await link.request(method, params)
    if isinstance(doc, ToolFailure):
        return answer(doc)
    rendered = [i.render() for i in header_imports(imports)]
    return answer(_run_output(doc, rendered, folder, max_messages))


async def lean_module_info(
    ctx: LeanContext, path: Annotated[str, Field(description="a Lean file of the workspace")]
) -> Annotated[CallToolResult, ModuleInfoOutput]:
    """A file's module, imports, session (its key and worker's state) and header diagnostics."""
    link = link_of(ctx)
    got = lean_file(link, path)
    if isinstance(got, ToolFailure):
        return answer(got)
    info = await link.request(m.MODULE_INFO, {"textDocument": {"uri": got[0].as_uri()}})
    if isinstance(info, ToolFailure):
        return answer(info)
    diagnostics = [f"{d.get('code')}: {bounded(d.get('message', ''), 500)}" for d in info["diagnostics"]]
    return answer(
        ModuleInfoOutput(
            path=info["path"],
            module=info["module"],
            library=info["library"],
            imports=info["imports"],
            headerEndLine=info["headerEnd"]["line"],
            sessionKey=info["sessionKey"],
            workerState=info["workerState"],
            workerMemoryMb=info["workerMemoryMb"],
            sharing=info["sharing"],
            closureSize=info["closureSize"],
            diagnostics=diagnostics[:20],
            omittedDiagnostics=max(0, len(diagnostics) - 20),
        )
    )


async def lean_plan(
    ctx: LeanContext,
    project: Project = None,
    profile: Annotated[
        str, Field(description="header: a file's own imports; module: the module loaded", pattern="^(header|module)$")
    ] = "header",
    strategy: Annotated[
        str, Field(description="exact, or cover (module profile)", pattern="^(exact|cover)$")
    ] = "exact",
    max_closure: Annotated[int | None, Field(description="cover: modules imported per session at most", ge=1)] = None,
    top: Annotated[int, Field(description="largest batches listed", ge=0, le=200)] = 10,
) -> Annotated[CallToolResult, PlanOutput]:
    """A summary of how the project's modules group into warm sessions: counts, the largest
    batches, what the plan saves in imports."""
    link = link_of(ctx)
    folder = project_folder(link, project)
    if isinstance(folder, ToolFailure):
        return answer(folder)
    if folder is None:
        return failure(
            ToolErrorKind.OUTSIDE_WORKSPACE, "the workspace has no Lake project: start `lean-batchd mcp --project DIR`"
        )
    params: dict[str, Any] = {"uri": folder.as_uri(), "profile": profile, "strategy": strategy}
    if max_closure is not None:
        params["maxClosure"] = max_closure
    plan = await link.request(m.PLAN, params)
    if isinstance(plan, ToolFailure):
        return answer(plan)
    batches = sorted(plan["batches"], key=lambda b: -len(b["modules"]))
    diagnostics = [f"{d.get('code')}: {bounded(d.get('message', ''), 500)}" for d in plan["diagnostics"]]
    stats = plan["stats"]
    return answer(
        PlanOutput(
            project=str(folder),
            profile=plan["profile"],
            strategy=plan["strategy"],
            batches=stats["batches"],
            modules=stats["modules"],
            importedModulesTotal=stats["importedModulesTotal"],
            naiveImportedModulesTotal=stats["naiveImportedModulesTotal"],
            largest=[
                Batch(
                    sessionKey=b["sessionKey"],
                    imports=b["imports"][:20],
                    omittedImports=max(0, len(b["imports"]) - 20),
                    modules=len(b["modules"]),
                    someModules=[x["module"] for x in b["modules"][:5]],
                    closureSize=b["closureSize"],
                )
                for b in batches[:top]
            ],
            diagnostics=diagnostics[:20],
            omittedDiagnostics=max(0, len(diagnostics) - 20),
        )
    )


async def lean_status(ctx: LeanContext) -> Annotated[CallToolResult, StatusOutput]:
    """The shared daemon: projects, warm workers (whose imports, memory), the pool's counters."""
    status = await link_of(ctx).request(m.STATUS, {})
    if isinstance(status, ToolFailure):
        return answer(status)
    pool = status["pool"]
    workers = [
        Worker(
            sessionKey=w["sessionKey"],
            state=w["state"],
            pid=w["pid"],
            imports=w["imports"][:20],
            memoryMb=w["memory"].get("chargeMb", 0.0),
            requests=w["requests"],
        )
        for w in pool["workers"][:50]
    ]
    return answer(
        StatusOutput(
            simulated=status["simulated"],
            daemon=status["daemon"],
            projects=status["projects"],
            workers=workers,
            omittedWorkers=max(0, len(pool["workers"]) - 50),
            chargedMb=pool["chargedMb"],
            budgetMb=pool.get("budgetMb"),
            queueDepth=pool["queueDepth"],
            counters=pool["counters"],
            connections=status["connections"],
        )
    )


async def lean_prewarm(
    ctx: LeanContext,
    path: Annotated[str | None, Field(description="warm this file's header session")] = None,
    header: Annotated[str | None, Field(description="or this header's, e.g. `import Mathlib`")] = None,
    project: Project = None,
    wait: Annotated[bool, Field(description="return once the session is warm (with progress)")] = False,
    timeout_seconds: Annotated[float, Field(description="how long to wait at most", gt=0)] = 600.0,
) -> Annotated[CallToolResult, PrewarmOutput]:
    """Start importing a session in the background, so later calls on it are fast."""
    link = link_of(ctx)
    if (path is None) == (header is None):
        return failure(ToolErrorKind.INVALID_ARGUMENTS, "give either `path` or `header`")
    if path is not None:
        got = lean_file(link, path)
        if isinstance(got, ToolFailure):
            return answer(got)
        document: dict[str, Any] = {"textDocument": {"uri": got[0].as_uri()}}
        params, info_method, info_params = document, m.MODULE_INFO, document
    else:
        assert header is not None
        folder = project_folder(link, project)
        if isinstance(folder, ToolFailure):
            return answer(folder)
        parsed = header_only(header)
        if isinstance(parsed, ToolFailure):
            return answer(parsed)
        where = {} if folder is None else {"uri": folder.as_uri()}
        params, info_method, info_params = {"header": header, **where}, m.SNIPPET_INFO, {"code": header, **where}
    started = await link.request(m.PREWARM, params)
    if isinstance(started, ToolFailure):
        return answer(started)
    end = time.monotonic() + timeout_seconds
    while True:
        info = await link.request(info_method, info_params)
        if isinstance(info, ToolFailure):
            return answer(info)
        state = info["workerState"]
        if not wait or state in ("warm", "busy"):
            return answer(
                PrewarmOutput(sessionKey=started["sessionKey"], started=bool(started["started"]), workerState=state)
            )
        if time.monotonic() > end:
            return failure(
                ToolErrorKind.TIMEOUT, f"the session was not warm within {timeout_seconds:g} s (it is {state})"
            )
        await ctx.report_progress(
            min(time.monotonic() - (end - timeout_seconds), timeout_seconds), timeout_seconds, state
        )
        await asyncio.sleep(0.1)


TOOLS = (lean_check, lean_run, lean_check_snippets, lean_module_info, lean_plan, lean_status, lean_prewarm)
READ_ONLY = frozenset({"lean_module_info", "lean_plan", "lean_status"})
