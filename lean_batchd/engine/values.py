"""What the engine answers: plain values the LSP layer and the command line render."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..lake.diagnostics import Diagnostic
from ..plan.planner import Plan
from ..workers.failures import WorkerFailure
from ..workers.protocol import Reply
from ..workers.worker import OptionsApplied


class ErrorKind(StrEnum):
    NO_PROJECT = "no-project"
    NOT_A_MODULE = "not-a-module"
    NO_REPL = "no-repl"
    REPL_MISMATCH = "repl-mismatch"
    """The REPL found is built for another Lean than the project's."""
    UNKNOWN_SESSION = "unknown-session"
    WORKER = "worker"
    NO_DAEMON = "no-daemon"
    """The shared daemon went away while the command line was using it."""
    HEADER_FAILED = "header-failed"
    """A header given to run on names an import nothing provides, or does not parse: Lean
    would refuse it, so no session is started for it."""


@dataclass(frozen=True, slots=True)
class EngineError:
    kind: ErrorKind
    message: str
    failure: WorkerFailure | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": str(self.kind), "message": self.message}
        if self.failure is not None:
            out["failure"] = self.failure.to_json()
        return out


@dataclass(frozen=True, slots=True)
class Range:
    """LSP coordinates: 0-based lines, UTF-16 code units."""

    start_line: int
    start_character: int
    end_line: int
    end_character: int

    def to_json(self) -> dict[str, object]:
        return {
            "start": {"line": self.start_line, "character": self.start_character},
            "end": {"line": self.end_line, "character": self.end_character},
        }


@dataclass(frozen=True, slots=True)
class FileMessage:
    severity: str
    range: Range
    text: str

    def to_json(self) -> dict[str, object]:
        return {"severity": self.severity, "range": self.range.to_json(), "message": self.text}


@dataclass(frozen=True, slots=True)
class RunResult:
    path: str
    session_key: str
    messages: tuple[FileMessage, ...]
    reply: Reply | None
    failure: WorkerFailure | None
    elapsed_seconds: float
    simulated: bool
    options: OptionsApplied | None = None
    """What became of Lake's options in the session (None when no session ran)."""

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "sessionKey": self.session_key,
            "messages": [m.to_json() for m in self.messages],
            "reply": None if self.reply is None else self.reply.to_json(),
            "failure": None if self.failure is None else self.failure.to_json(),
            "elapsedMs": round(self.elapsed_seconds * 1000, 1),
            "simulated": self.simulated,
            "options": None if self.options is None else self.options.to_json(),
        }


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    path: str
    module: str | None
    library: str | None
    imports: tuple[str, ...]
    header_end: tuple[int, int]
    """Line 1-based, column 0-based (Lean's convention)."""
    closure_size: int
    batch_id: str | None
    session_key: str
    worker_state: str
    """`cold` when no worker holds the session, else the worker's state."""
    worker_memory_mb: float | None
    sharing: int
    """Modules of the project whose header session is this one."""
    unsaved: bool
    diagnostics: tuple[Diagnostic, ...]
    generation: int = 0
    """The snapshot of the project the answer comes from."""
    pending: bool = False
    """Something the daemon knows of (a change, the plan's fingerprints, diagnostics) is not in
    that snapshot yet."""

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "module": self.module,
            "library": self.library,
            "imports": list(self.imports),
            "headerEnd": {"line": self.header_end[0], "column": self.header_end[1]},
            "closureSize": self.closure_size,
            "batchId": self.batch_id,
            "sessionKey": self.session_key,
            "workerState": self.worker_state,
            "workerMemoryMb": self.worker_memory_mb,
            "sharing": self.sharing,
            "unsaved": self.unsaved,
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "generation": self.generation,
            "pending": self.pending,
        }


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan and the snapshot generation it is of; `pending`: a later one is on its way."""

    plan: Plan
    generation: int
    pending: bool
