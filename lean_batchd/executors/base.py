"""The executor boundary: where a session's batch of commands runs.

The engine hands an executor one batch per session (`SessionBatch`: the session key and the
commands of its files, in order) and reads one `ItemAnswer` per command as each finishes. The
local pool is the default executor; Ray actors (`ray_cluster.py`) are the second. Neither the
planner nor the Lake model knows which one runs: they only ever see session keys.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from ..plan.keys import SessionKey
from ..workers.failures import WorkerFailure
from ..workers.protocol import Reply
from ..workers.worker import OptionsApplied


@dataclass(frozen=True, slots=True)
class ExecutorChoice:
    """Which executor the engine uses, and for Ray where and how (the command line's
    `--executor`, `--ray-address`, `--ray-namespace`)."""

    kind: str = "local"
    """`local` (this process's pool) or `ray`."""
    address: str = "local"
    """Ray: `local` starts a private single-node Ray; `auto` joins the cluster this machine runs;
    `HOST:PORT` joins that head node."""
    namespace: str = "lean-batchd"
    detached: bool = False
    """Ray: actors outlive this process (the daemon's, so that a restarted daemon re-attaches
    to its warm sessions); else they die with it."""


class ExecutorUnavailable(Exception):
    """The chosen executor cannot start (Ray cannot be joined): the command says why and stops."""


@dataclass(frozen=True, slots=True)
class BatchItem:
    command: str
    timeout: float | None = None
    more: bool = True
    """More commands of this session follow soon (`Lease.expect_more`: worth a warm spare)."""


@dataclass(frozen=True, slots=True)
class SessionBatch:
    key: SessionKey
    closure_size: int | None
    items: tuple[BatchItem, ...]


@dataclass(frozen=True, slots=True)
class ItemAnswer:
    index: int
    """The item's position in the batch it answers."""
    answer: Reply | WorkerFailure
    options: OptionsApplied | None
    """Lake's options as the worker set them (None when no worker ran the command)."""
    elapsed_seconds: float
    charged_mb: float = 0.0
    """The session's worker's memory after the command (what the executor reports as charged)."""


class Executor(Protocol):
    batched: bool
    """A batch costs a round trip (Ray): `check` then sends a session's files as one batch."""

    def run_batch(self, batch: SessionBatch) -> AsyncGenerator[ItemAnswer, None]:
        """One answer per item, in order, each as soon as it is done; never two for one item."""

    def prewarm(self, key: SessionKey, closure_size: int | None) -> None:
        """Start the session's host and its worker's import in the background (never waits)."""

    def start(self) -> list[str]:
        """Connect where it runs (Ray: join the cluster, re-attach to live sessions); what it found."""

    def sessions(self) -> tuple[int, float]:
        """Warm sessions and the memory they are charged."""

    def status(self) -> dict[str, object]:
        """What `status` shows of where sessions live."""

    async def close(self) -> None: ...
