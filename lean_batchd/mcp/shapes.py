"""What the MCP tools answer: JSON schemas (pydantic models) and bounded conversions.

Agents read Lean's own coordinates (lines from 1, columns from 0 in code points), not LSP's
(0-based lines, UTF-16 columns), so messages are converted where the text is at hand. Every
answer is bounded: long message lists keep errors first and say how many were left out; long
texts are cut with a count; file, snippet, batch and worker lists stop at a limit with a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..engine.outcome import FileOutcome
from ..engine.values import FileMessage
from ..workers.protocol import Message as ReplMessage

MAX_TEXT = 4000
"""Characters of one message (a long goal or trace is cut, with a count)."""
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


class Message(BaseModel):
    severity: str = Field(description="error, warning or info")
    line: int = Field(description="1-based")
    column: int = Field(description="0-based, in code points (Lean's convention)")
    endLine: int
    endColumn: int
    text: str


class Failure(BaseModel):
    kind: str = Field(description="timeout, crash, import-failed, ... (the pool's failure kinds)")
    message: str


class Outcome(BaseModel):
    status: str = Field(description="ok, errors, build-first, header-failed, timeout or crashed")
    errors: int
    warnings: int
    sorries: int
    messages: list[Message]
    omittedMessages: int = Field(description="messages left out past the limit (errors are kept first)")
    detail: str | None = Field(description="why it was not checked or did not finish")
    sessionKey: str
    elaboration: str | None = Field(description="repl (the header's warm session) or lean (`lean --json`)")
    cached: bool = Field(description="answered from the project's result cache: nothing it depends on changed")
    elapsedMs: float


class FileResult(Outcome):
    path: str
    module: str | None


class SnippetResult(Outcome):
    id: str


class Summary(BaseModel):
    count: int
    statuses: dict[str, int]
    cached: int = Field(description="answered from the project's result cache")
    sessions: int
    jobs: int
    elapsedMs: float
    simulated: bool = Field(description="true: the SIMULATED REPL answered, not Lean")


class CheckOutput(BaseModel):
    files: list[FileResult] = Field(description="failures first, then by path")
    omittedFiles: int
    summary: Summary


class SnippetsOutput(BaseModel):
    snippets: list[SnippetResult] = Field(description="failures first, then in the order given")
    omittedSnippets: int
    summary: Summary


class Sorry(BaseModel):
    goal: str
    line: int | None
    column: int | None
    proofState: int | None = Field(description="the REPL's proof state id in that session")


class RunOutput(BaseModel):
    messages: list[Message] = Field(description="positions relative to `code`")
    omittedMessages: int
    sorries: list[Sorry]
    omittedSorries: int
    env: int | None = Field(description="the REPL environment the code produced")
    failure: Failure | None = Field(description="the worker's failure (timeout, crash, ...), if any")
    sessionKey: str
    imports: list[str] = Field(description="the session's header: what the code ran on")
    project: str | None
    optionsApplied: list[str] = Field(description="Lake options set in the session")
    optionsNotApplied: list[str] = Field(description="Lake options not set, each with why")
    elapsedMs: float
    simulated: bool


class ModuleInfoOutput(BaseModel):
    path: str
    module: str | None
    library: str | None
    imports: list[str]
    headerEndLine: int
    sessionKey: str
    workerState: str = Field(description="cold, starting, importing, warm or busy")
    workerMemoryMb: float | None
    sharing: int = Field(description="modules of the project whose header session this is")
    closureSize: int
    diagnostics: list[str]
    omittedDiagnostics: int


class Batch(BaseModel):
    sessionKey: str
    imports: list[str]
    omittedImports: int
    modules: int
    someModules: list[str]
    closureSize: int


class PlanOutput(BaseModel):
    project: str
    profile: str
    strategy: str
    batches: int
    modules: int
    importedModulesTotal: int
    naiveImportedModulesTotal: int
    largest: list[Batch] = Field(description="the batches with the most modules")
    diagnostics: list[str]
    omittedDiagnostics: int


class Worker(BaseModel):
    sessionKey: str
    state: str
    pid: int | None
    imports: list[str]
    memoryMb: float
    requests: int


class StatusOutput(BaseModel):
    simulated: bool
    daemon: dict[str, Any] = Field(description="pid, address, log, uptime")
    projects: list[dict[str, Any]]
    workers: list[Worker]
    omittedWorkers: int
    chargedMb: float
    budgetMb: float | None
    queueDepth: int
    counters: dict[str, float] = Field(description="the pool's counters: spawns (imports), reuses, ...")
    connections: int


class PrewarmOutput(BaseModel):
    sessionKey: str
    started: bool = Field(description="false: a worker holds the session already")
    workerState: str


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def keep(severities: Sequence[str], limit: int) -> set[int]:
    """Which of `limit` messages to keep: errors first, then warnings, then the rest, each in order."""
    order = sorted(range(len(severities)), key=lambda i: (SEVERITY_RANK.get(severities[i], 3), i))
    return set(order[:limit])


def code_points(line: str | None, utf16: int) -> int:
    """An LSP column (UTF-16 code units) as Lean counts it (code points) on `line`."""
    if line is None:
        return utf16
    units = count = 0
    for ch in line:
        if units >= utf16:
            break
        units += 2 if ord(ch) > 0xFFFF else 1
        count += 1
    return count


def file_messages(messages: Sequence[FileMessage], lines: list[str] | None, limit: int) -> tuple[list[Message], int]:
    """LSP-range messages (of a file or a snippet whose `lines` are at hand) in Lean's coordinates."""
    kept = keep([msg.severity for msg in messages], limit)

    def line(i: int) -> str | None:
        return lines[i] if lines is not None and i < len(lines) else None

    out = [
        Message(
            severity=msg.severity,
            line=r.start_line + 1,
            column=code_points(line(r.start_line), r.start_character),
            endLine=r.end_line + 1,
            endColumn=code_points(line(r.end_line), r.end_character),
            text=bounded(msg.text),
        )
        for i, msg in enumerate(messages)
        if i in kept
        for r in (msg.range,)
    ]
    return out, len(messages) - len(out)


def repl_messages(messages: Sequence[ReplMessage], limit: int) -> tuple[list[Message], int]:
    """The REPL's own messages (already Lean's coordinates, relative to the command)."""
    kept = keep([msg.severity for msg in messages], limit)
    out = []
    for i, msg in enumerate(messages):
        if i not in kept:
            continue
        start = msg.pos
        end = msg.end_pos or start
        out.append(
            Message(
                severity=msg.severity,
                line=start.line if start else 1,
                column=start.column if start else 0,
                endLine=end.line if end else 1,
                endColumn=end.column if end else 0,
                text=bounded(msg.data),
            )
        )
    return out, len(messages) - len(out)


def outcome_fields(o: FileOutcome, lines: list[str] | None, limit: int) -> dict[str, Any]:
    """What a file's and a snippet's result share."""
    messages, omitted = file_messages(o.messages, lines, limit)
    return {
        "status": str(o.status),
        "errors": o.count("error"),
        "warnings": o.count("warning"),
        "sorries": o.sorries,
        "messages": messages,
        "omittedMessages": omitted,
        "detail": None if o.detail is None else bounded(o.detail),
        "sessionKey": o.session_key,
        "elaboration": None if o.elaboration is None else str(o.elaboration.path),
        "cached": o.cached,
        "elapsedMs": round(o.elapsed_seconds * 1000, 1),
    }


def failures_first(outcomes: Sequence[FileOutcome], limit: int) -> tuple[list[FileOutcome], int]:
    """Up to `limit` outcomes, failed ones first, each group in the given order."""
    ranked = sorted(outcomes, key=lambda o: not o.status.failed)
    return ranked[:limit], max(0, len(outcomes) - limit)
