"""Why a worker or the pool could not answer: typed values with stable kinds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    CRASH = "crash"
    """The worker died; `stderr` holds the end of what it printed."""
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    PROTOCOL = "protocol"
    """The worker sent something that is not a reply (its stream cannot be trusted any more)."""
    INVALID_REQUEST = "invalid-request"
    """Refused before sending: it would kill the REPL, or names an env or proof state of another process."""
    IMPORT_FAILED = "import-failed"
    """The session could not be set up: its header did not elaborate (unknown module, missing or
    incompatible .olean, ...), or Lean refused an option Lake passes."""
    SPAWN_FAILED = "spawn-failed"
    QUEUE_TIMEOUT = "queue-timeout"
    MEMORY = "memory"
    """Stopped for memory mid-request: over its hard ceiling, out of address space, or the machine
    ran out; the worker's tree was killed and a replacement is warming."""
    MEMORY_REFUSED = "memory-refused"
    """A new worker for this session cannot fit (its cost is above the budget or the hard ceiling)."""
    MEMORY_PRESSURE = "memory-pressure"
    """The machine stayed short of memory for the whole queue wait: no new worker was started."""
    NODE_LOST = "node-lost"
    """The executor lost the session's host (a Ray actor or node) mid-batch, and again on retry."""
    RESTART_LIMIT = "restart-limit"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    kind: FailureKind
    message: str
    stderr: str = ""
    key_digest: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"kind": str(self.kind), "message": self.message, "stderr": self.stderr, "sessionKey": self.key_digest}


class LeaseRefused(Exception):
    """Raised by `WorkerPool.lease` (a context manager cannot return a value instead of entering)."""

    def __init__(self, failure: WorkerFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure
