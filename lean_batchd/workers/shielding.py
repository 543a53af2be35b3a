"""Cancellation done right: work that must reach its end even when the caller is cancelled (a
fork, a thread on the model), and tasks stopped without swallowing the caller's cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_to_end(work: Awaitable[T], undo: Callable[[T], Awaitable[None]] | None = None) -> T:
    """Await `work`; if the caller is cancelled meanwhile, still wait for `work` to finish (through
    further cancellations), `undo` its result, then re-raise: cleanup is never cut short, and a
    lock held around this call is not released while the work still runs."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if undo is not None and not task.cancelled() and task.exception() is None:
            await undo(task.result())
        raise


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel `tasks` and wait until they have ended. `suppress(CancelledError)` around `await
    task` would also swallow a cancellation of the caller landing meanwhile; this raises it."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: a task that failed said so where it failed
