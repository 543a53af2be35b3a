"""Work that must reach its end even when the caller is cancelled (a fork, a thread on the model)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
