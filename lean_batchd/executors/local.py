"""The default executor: this process's worker pool. Ray's actors run the same loop on their
own one-worker pool (`session_actor.py`)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

from ..plan.keys import SessionKey
from ..workers.failures import LeaseRefused
from ..workers.pool import WorkerPool
from ..workers.protocol import Command
from ..workers.worker import OptionsApplied
from .base import ItemAnswer, SessionBatch

WARM_STATES = ("warm", "busy")


async def run_on_pool(pool: WorkerPool, batch: SessionBatch) -> AsyncGenerator[ItemAnswer, None]:
    """Each item under its own lease, as one request at a time always ran: the pool recycles,
    replaces and accounts for the worker between files exactly as it does for single requests."""
    for index, item in enumerate(batch.items):
        started = time.monotonic()
        options: OptionsApplied | None = None
        try:
            async with pool.lease(batch.key, closure_size=batch.closure_size, expect_more=item.more) as lease:
                answer = await lease.run(Command(item.command), item.timeout)
                options = lease.worker.options
        except LeaseRefused as refused:
            answer = refused.failure
        yield ItemAnswer(index, answer, options, time.monotonic() - started, pool.snapshot().charged_mb)


class LocalExecutor:
    batched = False

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool

    def run_batch(self, batch: SessionBatch) -> AsyncGenerator[ItemAnswer, None]:
        return run_on_pool(self.pool, batch)

    def prewarm(self, key: SessionKey, closure_size: int | None) -> None:
        self.pool.prewarm(key, closure_size=closure_size)

    def start(self) -> list[str]:
        return []

    def sessions(self) -> tuple[int, float]:
        snapshot = self.pool.snapshot()
        return sum(1 for w in snapshot.workers if str(w.state) in WARM_STATES), snapshot.charged_mb

    def status(self) -> dict[str, object]:
        return {"kind": "local"}

    async def close(self) -> None:
        """The pool belongs to the engine, which closes it."""
