"""Warm Lean workers: the REPL protocol, worker processes, the pool. No Lake parsing, no LSP.

A worker is the Lean REPL holding one session: its key's header, imported
exactly once. The pool decides which process hosts a batch; nothing else does.
"""

from .failures import FailureKind, LeaseRefused, WorkerFailure
from .locate import ReplFound, ReplMismatch, ReplNotFound, find_repl
from .memory import MemoryFigures, measure_tree
from .pool import Lease, PoolConfig, PoolSnapshot, WorkerPool
from .protocol import (
    Command,
    CommandReply,
    FileCommand,
    Message,
    Pos,
    ProofStepReply,
    ProtocolError,
    ReplError,
    Reply,
    Request,
    Sorry,
    TacticStep,
)
from .worker import OptionsApplied, WorkerInfo, WorkerState

__all__ = [
    "Command",
    "CommandReply",
    "FailureKind",
    "FileCommand",
    "Lease",
    "LeaseRefused",
    "MemoryFigures",
    "Message",
    "OptionsApplied",
    "PoolConfig",
    "PoolSnapshot",
    "Pos",
    "ProofStepReply",
    "ProtocolError",
    "ReplError",
    "ReplFound",
    "ReplMismatch",
    "ReplNotFound",
    "Reply",
    "Request",
    "Sorry",
    "TacticStep",
    "WorkerFailure",
    "WorkerInfo",
    "WorkerPool",
    "WorkerState",
    "find_repl",
    "measure_tree",
]
