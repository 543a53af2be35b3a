"""Where batches run: the local pool (default) or Ray actors (`pip install 'lean-batchd[ray]'`).

Ray is imported only when it is chosen: the command line's start-up does not pay for it.
"""

from __future__ import annotations

from ..workers.pool import WorkerPool
from .base import BatchItem, Executor, ExecutorChoice, ExecutorUnavailable, ItemAnswer, SessionBatch
from .local import LocalExecutor

__all__ = [
    "BatchItem",
    "Executor",
    "ExecutorChoice",
    "ExecutorUnavailable",
    "ItemAnswer",
    "LocalExecutor",
    "SessionBatch",
    "executor_for",
]


def executor_for(choice: ExecutorChoice, pool: WorkerPool) -> Executor:
    """`pool` runs local batches, and gives Ray's actors its settings (limits, timeouts, TTL)."""
    if choice.kind == "local":
        return LocalExecutor(pool)
    if choice.kind == "ray":
        from .ray_cluster import RayExecutor

        return RayExecutor(choice, pool.config)
    raise ValueError(f"unknown executor {choice.kind!r} (local or ray)")
