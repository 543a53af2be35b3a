"""A worker's answer to a file's body, as the engine reports it: messages placed in the file."""

from __future__ import annotations

from ..workers.failures import WorkerFailure
from ..workers.protocol import CommandReply, ProofStepReply, Reply
from ..workers.worker import OptionsApplied
from .positions import file_range
from .snapshot import Session
from .values import EngineError, ErrorKind, FileMessage, RunResult


def run_result(
    session: Session,
    path: str,
    text: str,
    answer: Reply | WorkerFailure,
    options: OptionsApplied | None,
    elapsed_seconds: float,
    simulated: bool,
) -> RunResult | EngineError:
    """Messages mapped to the file as if the body sat right after the header (whichever
    executor ran it)."""
    header_end = session.work.header_end
    assert header_end is not None
    reply: CommandReply | ProofStepReply | None = None
    failure: WorkerFailure | None = None
    if isinstance(answer, WorkerFailure):
        failure = answer
    elif isinstance(answer, CommandReply | ProofStepReply):
        reply = answer
    else:
        return EngineError(ErrorKind.WORKER, f"the REPL answered: {answer.message}")
    lines = text.split("\n")
    messages = tuple(
        FileMessage(m.severity, file_range(lines, header_end, m.pos, m.end_pos), m.data)
        for m in (reply.messages if reply is not None else ())
    )
    return RunResult(
        path=path,
        session_key=session.key.digest,
        messages=messages,
        reply=reply,
        failure=failure,
        elapsed_seconds=elapsed_seconds,
        simulated=simulated,
        options=options,
    )


def body_of(session: Session, text: str) -> str:
    """The text after the file's header: what a warm session elaborates."""
    header_end = session.work.header_end
    assert header_end is not None
    return text.encode("utf-8")[header_end.offset :].decode("utf-8", errors="replace")
