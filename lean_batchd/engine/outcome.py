"""What checking one file gave: a value the command line, `--json` and the daemon share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..plan.elaboration import Elaboration, ElaborationPath
from ..workers.failures import FailureKind
from ..workers.protocol import CommandReply, ProofStepReply
from ..workers.worker import OptionsApplied
from .values import FileMessage, Range, RunResult


class FileStatus(StrEnum):
    OK = "ok"
    """Elaborated without errors (warnings and sorries are counted, not failures)."""
    ERRORS = "errors"
    BUILD_FIRST = "build-first"
    """An imported module's `.olean` is not up to date (Lake would rebuild it): not checked."""
    HEADER_FAILED = "header-failed"
    """The session's imports did not load."""
    TIMEOUT = "timeout"
    MEMORY = "memory"
    """Stopped for memory (a hard ceiling, the address-space limit, the machine running out),
    or no worker could be given memory for it (`detail` says which)."""
    NODE_LOST = "node-lost"
    """The session's Ray actor or node was lost while the file ran, and again on a fresh one."""
    CRASHED = "crashed"
    """The worker died, or failed in another way the pool reported."""

    @property
    def failed(self) -> bool:
        return self is not FileStatus.OK


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: str
    module: str | None
    status: FileStatus
    session_key: str
    messages: tuple[FileMessage, ...] = ()
    sorries: int = 0
    detail: str | None = None
    """Why a file was not checked or did not finish (the build hint, the worker failure)."""
    elapsed_seconds: float = 0.0
    simulated: bool = False
    elaboration: Elaboration | None = None
    """How the file was (or would have been) elaborated, and why that way."""
    options: OptionsApplied | None = None
    """Lake's options: those set, and those not set with the reason."""
    build_judged_by: str | None = None
    """`lake` or `mtime` when the build was checked (see `lake.artifacts`); None when not."""
    cached: bool = False
    """Answered from the project's store: an earlier run gave it, and nothing it depends on changed."""

    def count(self, severity: str) -> int:
        return sum(1 for m in self.messages if m.severity == severity)

    def same_result(self, other: FileOutcome) -> bool:
        """Equal apart from timing: what the planned and the naive paths must agree on."""
        return (self.path, self.status, self.messages, self.sorries, self.detail, self.elaboration, self.options) == (
            other.path,
            other.status,
            other.messages,
            other.sorries,
            other.detail,
            other.elaboration,
            other.options,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "module": self.module,
            "status": str(self.status),
            "sessionKey": self.session_key,
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "sorries": self.sorries,
            "messages": [m.to_json() for m in self.messages],
            "detail": self.detail,
            "elapsedMs": round(self.elapsed_seconds * 1000, 1),
            "simulated": self.simulated,
            "elaboration": None if self.elaboration is None else self.elaboration.to_json(),
            "options": None if self.options is None else self.options.to_json(),
            "buildCheck": self.build_judged_by,
            "cached": self.cached,
        }

    @staticmethod
    def from_json(doc: dict[str, Any]) -> FileOutcome:
        """The inverse of `to_json` (the command line reads the daemon's answers with it)."""
        messages = tuple(
            FileMessage(
                m["severity"],
                Range(
                    m["range"]["start"]["line"],
                    m["range"]["start"]["character"],
                    m["range"]["end"]["line"],
                    m["range"]["end"]["character"],
                ),
                m["message"],
            )
            for m in doc["messages"]
        )
        return FileOutcome(
            path=doc["path"],
            module=doc["module"],
            status=FileStatus(doc["status"]),
            session_key=doc["sessionKey"],
            messages=messages,
            sorries=doc["sorries"],
            detail=doc["detail"],
            elapsed_seconds=doc["elapsedMs"] / 1000,
            simulated=doc["simulated"],
            elaboration=Elaboration(ElaborationPath(e["path"]), e["reason"]) if (e := doc.get("elaboration")) else None,
            options=OptionsApplied.from_json(o) if (o := doc.get("options")) else None,
            build_judged_by=doc.get("buildCheck"),
            cached=bool(doc.get("cached", False)),
        )


MEMORY_FAILURES = frozenset({FailureKind.MEMORY, FailureKind.MEMORY_REFUSED, FailureKind.MEMORY_PRESSURE})


def outcome_of(
    result: RunResult, module: str | None, elaboration: Elaboration | None = None, build_judged_by: str | None = None
) -> FileOutcome:
    """Classifies a file's elaboration."""
    failure = result.failure
    status = FileStatus.OK
    detail = None
    if failure is not None:
        detail = failure.message
        if failure.kind is FailureKind.TIMEOUT:
            status = FileStatus.TIMEOUT
        elif failure.kind is FailureKind.IMPORT_FAILED:
            status = FileStatus.HEADER_FAILED
        elif failure.kind in MEMORY_FAILURES:
            status = FileStatus.MEMORY
        elif failure.kind is FailureKind.NODE_LOST:
            status = FileStatus.NODE_LOST
        else:
            status = FileStatus.CRASHED
    elif any(m.severity == "error" for m in result.messages):
        status = FileStatus.ERRORS
    reply = result.reply
    if isinstance(reply, CommandReply | ProofStepReply):
        sorries = len(reply.sorries)
    else:  # `lean --json` reports no sorries, only the declarations using one
        sorries = sum(1 for m in result.messages if m.text.startswith("declaration uses `sorry`"))
    return FileOutcome(
        path=result.path,
        module=module,
        status=status,
        session_key=result.session_key,
        messages=result.messages,
        sorries=sorries,
        detail=detail,
        elapsed_seconds=result.elapsed_seconds,
        simulated=result.simulated,
        elaboration=elaboration,
        options=result.options,
        build_judged_by=build_judged_by,
    )
