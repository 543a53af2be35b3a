"""A lease: exclusive use of one warm worker of the pool, until it is released."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..plan.keys import SessionKey
from .failures import FailureKind, WorkerFailure
from .protocol import Command, Reply, Request
from .worker import Worker

if TYPE_CHECKING:
    from .pool import WorkerPool


class Lease:
    """Exclusive use of one warm worker; every command runs against the session's import."""

    def __init__(self, pool: WorkerPool, worker: Worker) -> None:
        self._pool = pool
        self.worker = worker
        self.lost: WorkerFailure | None = None
        self.expect_more = True
        """More requests on this session are expected soon: worth warming a spare for (a `check`
        clears it on a session's last file, so no import is paid for nothing)."""

    @property
    def key(self) -> SessionKey:
        return self.worker.key

    async def run(self, request: Request | str, timeout: float | None = None) -> Reply | WorkerFailure:
        if self.lost is not None:
            return self.lost
        if isinstance(request, str):
            request = Command(request)
        limit = timeout if timeout is not None else self._pool.config.request_timeout
        try:
            reply = await self.worker.run(request, limit)
        except asyncio.CancelledError:
            self.lost = WorkerFailure(FailureKind.CANCELLED, "the request was cancelled", key_digest=self.key.digest)
            self._pool._lose(self.worker, FailureKind.CANCELLED)
            raise
        if isinstance(reply, WorkerFailure):
            if reply.kind is FailureKind.INVALID_REQUEST:
                return reply
            cause = self.worker.lost_to or reply  # the pool stopped it for memory: say so, not "crash"
            self.lost = WorkerFailure(cause.kind, cause.message, reply.stderr, self.key.digest)
            self._pool._lose(self.worker, cause.kind)
            return self.lost
        return reply
