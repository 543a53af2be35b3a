"""One warm session on a Ray node: the actor class, without Ray's decorator (the executor
applies `ray.remote` when Ray is chosen, so importing this module never imports Ray).

The actor owns a one-worker `WorkerPool`: the same worker, guard (process group,
`PR_SET_PDEATHSIG` from the pool's long-lived event-loop thread) and memory policy as the
local pool, sampling the worker's whole process tree, because Ray's OOM monitor charges a
child's memory to nobody (scaleout.md, pitfall 7). Ray runs an async actor's methods on one
event loop thread that lives as long as the actor, so the spawning thread outlives the worker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

from ..plan.keys import SessionKey
from ..workers.failures import FailureKind, WorkerFailure
from ..workers.pool import PoolConfig, WorkerPool
from .base import ItemAnswer, SessionBatch
from .local import run_on_pool


def node_lacks(batch: SessionBatch) -> str | None:
    """What this node lacks to run the session: the project, or the worker's program (every node
    needs both at the driver's paths: `docs/scale-out.md`)."""
    key = batch.key
    where = socket.gethostname()
    if not os.path.isdir(key.project_root):
        return f"node {where} lacks the project folder {key.project_root}"
    program = key.worker_command[0] if key.worker_command else ""
    if not (os.path.isabs(program) and os.access(program, os.X_OK)) and shutil.which(program) is None:
        return f"node {where} lacks the worker program {program}"
    return None


class SessionActor:
    def __init__(
        self,
        key_digest: str,
        full_digest: str,
        config: PoolConfig,
        reserved_mb: float,
        owner: str,
        abandon_after: float | None = None,
    ) -> None:
        self.owner = owner
        self.abandon_after = abandon_after
        """Idle this long, the actor ends itself: a detached one whose daemon died and never came
        back would otherwise hold its memory forever (a live daemon reaps sooner)."""
        self._idle_watch: asyncio.Task[None] | None = None
        self.key_digest = key_digest
        self.full_digest = full_digest
        self.reserved_mb = reserved_mb
        self.config = replace(config, max_workers=1, max_workers_per_key=1)
        self._pool: WorkerPool | None = None
        self.busy = 0
        self.last_used = time.monotonic()
        self.batches = 0

    def _watch_idle(self) -> None:
        if self.abandon_after is not None and self._idle_watch is None:
            self._idle_watch = asyncio.get_running_loop().create_task(self._end_when_idle(self.abandon_after))

    async def _end_when_idle(self, ttl: float) -> None:
        import ray

        while True:
            await asyncio.sleep(min(5.0, max(ttl / 4, 0.05)))
            if self.busy == 0 and time.monotonic() - self.last_used > ttl:
                if self._pool is not None:
                    await self._pool.close()
                ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
                return

    def _pool_here(self) -> WorkerPool:
        """Made on the actor's event loop (the pool's tasks and the worker's spawn belong there)."""
        if self._pool is None:
            self._pool = WorkerPool(self.config)
        return self._pool

    async def run_batch(self, batch: SessionBatch) -> AsyncGenerator[ItemAnswer, None]:
        """A generator method: Ray streams each answer back as it is yielded (one call per batch)."""
        self._watch_idle()
        self.busy += 1
        self.batches += 1
        try:
            lacking = node_lacks(batch)
            if lacking is not None:
                failure = WorkerFailure(FailureKind.SPAWN_FAILED, lacking, key_digest=batch.key.digest)
                for index in range(len(batch.items)):
                    yield ItemAnswer(index, failure, None, 0.0)
                return
            async for answer in run_on_pool(self._pool_here(), batch):
                yield answer
        finally:
            self.busy -= 1
            self.last_used = time.monotonic()

    async def prewarm(self, key: SessionKey, closure_size: int | None) -> bool:
        """The worker imports its header before the session's first batch comes."""
        self._watch_idle()
        if node_lacks(SessionBatch(key, closure_size, ())) is not None:
            return False
        return self._pool_here().prewarm(key, closure_size=closure_size)

    async def describe(self) -> dict[str, Any]:
        import ray

        self._watch_idle()
        pool = self._pool.snapshot() if self._pool is not None else None
        return {
            "key": self.key_digest,
            "fullDigest": self.full_digest,
            "node": ray.get_runtime_context().get_node_id(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "reservedMb": self.reserved_mb,
            "hardMb": self.config.memory.worker_hard_mb,
            "owner": self.owner,
            "busy": self.busy > 0,
            "idleSeconds": round(time.monotonic() - self.last_used, 1),
            "batches": self.batches,
            "chargedMb": round(pool.charged_mb, 1) if pool is not None else 0.0,
            "workers": [w.to_json() for w in pool.workers] if pool is not None else [],
        }

    async def close(self) -> bool:
        """Stop the worker's tree before Ray ends the actor (a `ray.kill` alone leaves the child to
        its death signal). Refused (False) while a batch runs: the driver that owns the actor
        judges idleness by its own batches, and another driver may be streaming one here."""
        if self.busy > 0:
            return False
        if self._pool is not None:
            await self._pool.close()
        return True
