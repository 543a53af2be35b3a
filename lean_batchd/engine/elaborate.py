"""Checking one file as `lake build` would see it: is the build it imports up to date, then
elaborate it in its header's warm REPL session or, where a session cannot be faithful
(`plan.elaboration`), in `lean --json` on the whole file; or answer it from the project's
store, when nothing the outcome depends on has changed since it was stored (`result_key_of`).

Whether the build is up to date is Lake's question (`lake.artifacts`): its answers are kept
per project until a source or a build artifact changes, so a run asks it once, about every
module the project's files import, and each file then reads the answers for its imports.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..lake.artifacts import (
    BuildStatus,
    JudgedBy,
    LakeUnanswered,
    StaleArtifact,
    lake_asker,
    lake_stale,
    olean_path,
    stale_artifacts,
)
from ..lake.diagnostics import Code, Diagnostic, Severity
from ..lake.header import START
from ..plan.elaboration import Elaboration, ElaborationPath, elaboration_of, option_plan
from ..plan.work import ModuleWork
from ..store.identity import program_identity
from ..store.results import LEAN, SIMULATED, ResultKey, ResultStore, result_key
from ..workers.failures import WorkerFailure
from ..workers.lean_file import DEFAULT_LEAN_COMMAND, run_lean_file
from ..workers.worker import OptionsApplied
from .managed import ManagedProject, model_thread
from .outcome import FileOutcome, FileStatus, outcome_of
from .positions import file_range, utf16
from .snapshot import Session
from .values import EngineError, FileMessage, Range, RunResult

if TYPE_CHECKING:
    from .engine import Engine


DEFINITIVE = frozenset({FileStatus.OK, FileStatus.ERRORS})
"""Outcomes that say what Lean says of the file: the only ones remembered (a timeout, a crash, a
header that did not load or an unbuilt import say something about this run, not the file)."""


async def check_file(
    engine: Engine,
    managed: ManagedProject,
    session: Session,
    path: str,
    timeout: float | None,
    build_check: bool,
    owner: str | None = None,
    results: ResultStore | None = None,
    expect_more: bool = True,
    *,
    text: str | None = None,
) -> FileOutcome | EngineError:
    """With `results`, a definitive outcome is answered from the store and stored; against Lean
    only when the build check passed (unchecked, the imports' `.olean` files may not be their
    sources', and the outcome would be keyed by sources it did not see). `expect_more`: files of
    the same session follow (`Lease.expect_more`). `text` is what to elaborate when it is not the
    file's (a snippet, `engine.snippets`); by default `owner`'s unsaved buffer of the file, else
    the file on disk."""
    pending = await prepare_check(engine, managed, session, path, build_check, owner, results, text=text)
    if isinstance(pending, FileOutcome):
        return pending
    result: RunResult | EngineError
    if pending.elaboration.path is ElaborationPath.LEAN:
        result = await run_whole_file(engine, managed, session, path, timeout, owner, pending.text)
    else:
        result = await engine.elaborate_text(session, path, pending.text, None, timeout, expect_more)
    return await finish_check(managed, pending, result, owner, results)


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A file that passed the build check and is not in the store: what elaborating it needs,
    and what its outcome is stored under."""

    path: str
    module: str | None
    session: Session
    text: str
    given: bool
    """`text` was given (a snippet), not read from the file or its buffer."""
    elaboration: Elaboration
    judged: str | None
    stored: ResultKey | None


async def prepare_check(
    engine: Engine,
    managed: ManagedProject,
    session: Session,
    path: str,
    build_check: bool,
    owner: str | None = None,
    results: ResultStore | None = None,
    *,
    text: str | None = None,
) -> FileOutcome | PendingCheck:
    """Everything of `check_file` before Lean runs: the imports, the build check and the store;
    an outcome when one of them answers, else what is left to elaborate (a batch executor
    gathers these)."""
    work, key = session.work, session.key
    module = managed.snapshot.module_at(path)
    elaboration = elaboration_of(key.is_module, key.options, key.toolchain)
    given = text is not None
    text = await managed.text_of(path, owner) if text is None else text
    refused = await header_errors(managed, path, text)
    if refused:
        return header_failed(path, module, key.digest, refused, engine.config.simulated, elaboration)
    judged: str | None = None
    if build_check:
        status = await build_status(engine, managed, work)
        judged = str(status.judged_by)
        if status.stale:
            return FileOutcome(
                path=path,
                module=module,
                status=FileStatus.BUILD_FIRST,
                session_key=key.digest,
                detail=status.hint(),
                simulated=engine.config.simulated,
                elaboration=elaboration,
                build_judged_by=judged,
            )
    stored: ResultKey | None = None
    if results is not None and (build_check or engine.config.simulated):
        stored = await result_key_of(engine, managed, session, path, text)
        started = time.monotonic()
        hit = _outcome_from(results.get(stored))
        if hit is not None:
            return replace(
                hit, path=path, module=module, session_key=key.digest, elapsed_seconds=time.monotonic() - started,
                elaboration=elaboration, build_judged_by=judged, cached=True,
            )  # fmt: skip
    return PendingCheck(path, module, session, text, given, elaboration, judged, stored)


async def finish_check(
    managed: ManagedProject,
    pending: PendingCheck,
    result: RunResult | EngineError,
    owner: str | None = None,
    results: ResultStore | None = None,
) -> FileOutcome | EngineError:
    """The outcome of an elaboration, stored when it is definitive and of the text its key names."""
    if isinstance(result, EngineError):
        return result
    outcome = outcome_of(result, pending.module, pending.elaboration, pending.judged)
    elaborated = pending.given or await managed.text_of(pending.path, owner) == pending.text  # what Lean saw
    stored = pending.stored
    if results is not None and stored is not None and outcome.status in DEFINITIVE and elaborated:
        await asyncio.to_thread(results.put, stored, outcome.to_json())
    if results is not None and results.due():
        await asyncio.to_thread(results.flush)
    return outcome


HEADER_REFUSALS = frozenset({Code.UNRESOLVED_IMPORT, Code.HEADER_SYNTAX})
"""What makes Lean refuse a header: an import it cannot find, or a header it cannot parse."""


async def header_errors(managed: ManagedProject, path: str, text: str) -> list[FileMessage]:
    """Why Lean would refuse `text`'s header: imports no package of the workspace provides, as
    Lake resolves them (`LakeProject.buffer_diagnostics`), or a header that does not parse
    (whose broken part a session's key would silently leave out). Unresolved imports are not
    errors while dependencies are missing from disk (`lake update` may bring them)."""
    async with managed.lock:
        found = await model_thread(managed.project.buffer_diagnostics, path, text)
    return header_messages(found, text)


def header_failed(
    path: str, module: str | None, key: str, refused: list[FileMessage], simulated: bool, elaboration: Elaboration
) -> FileOutcome:
    """The outcome of a file or snippet whose header Lean refuses: no session is started for it."""
    return FileOutcome(
        path=path, module=module, status=FileStatus.HEADER_FAILED, session_key=key, messages=tuple(refused),
        simulated=simulated, elaboration=elaboration,
    )  # fmt: skip


def header_messages(found: Iterable[Diagnostic], text: str) -> list[FileMessage]:
    """The errors among `found` that make Lean refuse the header, as messages on `text`."""
    lines = text.split("\n")
    out = []
    for d in found:
        if d.code in HEADER_REFUSALS and d.severity is Severity.ERROR and d.line is not None:
            line = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
            start = utf16(line, d.column or 0)
            out.append(FileMessage("error", Range(d.line - 1, start, d.line - 1, utf16(line, len(line))), d.message))
    return out


async def result_key_of(engine: Engine, managed: ManagedProject, session: Session, path: str, text: str) -> ResultKey:
    """Everything the outcome of checking `text` at `path` depends on (`store.results.result_key`
    says why each part is there). The programs are the session's worker command and the
    `lean` that elaborates whole files, whichever the file takes."""

    def import_digests() -> list[tuple[str, str]]:
        graph = managed.project.graph
        names = [i.module for i in session.key.imports]
        return [(n, graph.closure_digest(n) if n in graph else "") for n in names]

    async with managed.lock:
        imports = await model_thread(import_digests)
        config = managed.project.workspace.config_digest
    lean = engine.config.lean_command or DEFAULT_LEAN_COMMAND
    return result_key(
        namespace=SIMULATED if engine.config.simulated else LEAN,
        path=path,
        session=session.key.full_digest,
        text=text,
        imports=imports,
        program=program_identity(session.key.worker_command) + program_identity(lean),
        config=config,
    )


def _outcome_from(doc: dict[str, object] | None) -> FileOutcome | None:
    if doc is None:
        return None
    try:
        return FileOutcome.from_json(doc)
    except (KeyError, TypeError, ValueError):
        return None


async def build_status(engine: Engine, managed: ManagedProject, work: ModuleWork) -> BuildStatus:
    """Lake's verdict on the modules `work` imports (asked once for every module the project's
    files import, then kept); modification times where there is no Lake or it cannot say."""
    imports = [i.module for i in work.imports]
    async with managed.lock:
        by_mtime = await model_thread(stale_artifacts, managed.project, imports)
        targets = [m for m in dict.fromkeys(imports) if managed.project.graph.get(m) is not None]
    lake = engine.config.lake_command or ((found,) if (found := shutil.which("lake")) else None)
    if lake is None:
        return BuildStatus(tuple(by_mtime), JudgedBy.MTIME, "`lake` is not on PATH")
    async with managed.lake_lock:
        if any(t not in managed.lake_verdicts for t in targets):
            try:
                await _ask_lake(managed, lake, targets)
            except LakeUnanswered as e:
                return BuildStatus(tuple(by_mtime), JudgedBy.MTIME, str(e))
        stale = [t for t in targets if not managed.lake_verdicts.get(t, False)]
    known = {s.module: s for s in by_mtime}
    artifacts = []
    for name in stale:
        if name in known:
            artifacts.append(known[name])
            continue
        layouts = {layout.name: layout for layout in (managed.project.layout, *managed.project.workspace.dependencies)}
        olean = olean_path(layouts[managed.project.graph.modules[name].package], name)
        artifacts.append(StaleArtifact(name, str(olean), missing=not olean.exists()))
    return BuildStatus(tuple(artifacts), JudgedBy.LAKE)


async def _ask_lake(managed: ManagedProject, lake: tuple[str, ...], targets: list[str]) -> None:
    """Ask about every module the project's files import (plus `targets`), suspects first: those
    whose closure modification times call stale."""
    async with managed.lock:
        project = managed.project
        wanted = sorted({e for m in project.local_modules() for e in project.graph.edges(m.name)} | set(targets))
        mtime_stale = {s.module for s in await model_thread(stale_artifacts, project, wanted)}
        index = managed.context().closures()
        suspect_mask = index.mask(mtime_stale & set(index.closure))
        suspects = {t for t in wanted if t in index.closure and index.closure[t] & suspect_mask}
    ask = lake_asker(lake, managed.root)
    stale = await asyncio.to_thread(lake_stale, wanted, suspects, ask)
    managed.lake_verdicts.update({t: t not in stale for t in wanted})


async def run_whole_file(
    engine: Engine,
    managed: ManagedProject,
    session: Session,
    path: str,
    timeout: float | None,
    owner: str | None,
    text: str | None = None,
) -> RunResult:
    """`lean --json` on the file (`owner`'s unsaved buffer if it has one), messages in place;
    `text` is that text when the caller has read it already."""
    text = await managed.text_of(path, owner) if text is None else text
    command = engine.config.lean_command or DEFAULT_LEAN_COMMAND
    source_root = os.path.join(managed.root, session.work.source_root)
    return await lean_on_text(engine, session, path, text, str(managed.root), source_root, command, timeout)


async def lean_on_text(
    engine: Engine,
    session: Session,
    path: str,
    text: str,
    cwd: str,
    source_root: str,
    command: tuple[str, ...],
    timeout: float | None,
) -> RunResult:
    """`command` (Lean: `lean --json`) on the file at `path` under `source_root`, or on `text` in
    its place when the session's text is unsaved (a buffer, a snippet); messages in place."""
    key = session.key
    started = time.monotonic()
    got = await run_lean_file(command, cwd, path, source_root, key.options, timeout, text if session.unsaved else None)
    lines = text.split("\n")
    failure = got if isinstance(got, WorkerFailure) else None
    messages = () if failure is not None or isinstance(got, WorkerFailure) else got.messages
    plan = option_plan(key.options)
    weak = "passed as `-D`: Lean sets it only if the imports declare it, and does not say whether they did"
    options = OptionsApplied(
        tuple(name for name, _ in plan.together) + tuple(name for name, _ in plan.not_applied),
        tuple((written, weak) for written, _, _ in plan.weak),
    )
    return RunResult(
        path=path,
        session_key=key.digest,
        messages=tuple(FileMessage(m.severity, file_range(lines, START, m.pos, m.end_pos), m.data) for m in messages),
        reply=None,
        failure=failure,
        elapsed_seconds=time.monotonic() - started,
        simulated=engine.config.simulated,
        options=options,
    )
