"""Cancellation helpers: cleanup runs to its end, and a caller's own cancellation is never lost."""

from __future__ import annotations

import asyncio

import pytest

from lean_batchd.workers.shielding import cancel_and_wait, run_to_end


async def _slow_to_stop(ended: list[str]) -> None:
    """A task that takes a while to honour its cancellation (a process being reaped)."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)
        ended.append("stopped")
        raise


def test_cancel_and_wait_waits_for_the_end_and_keeps_the_callers_cancellation() -> None:
    async def body() -> None:
        ended: list[str] = []
        task = asyncio.create_task(_slow_to_stop(ended))
        await asyncio.sleep(0)
        caller = asyncio.create_task(cancel_and_wait(task))
        await asyncio.sleep(0.01)  # the caller waits for the task to stop
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller  # `suppress(CancelledError)` around `await task` returned here
        await asyncio.wait({task})
        assert ended == ["stopped"]

        done, slow = asyncio.create_task(asyncio.sleep(0)), asyncio.create_task(_slow_to_stop(ended))
        await asyncio.sleep(0.01)
        await cancel_and_wait(done, slow)
        assert slow.cancelled()
        assert ended == ["stopped", "stopped"]

    asyncio.run(body())


def test_run_to_end_finishes_the_work_then_undoes_it_for_a_cancelled_caller() -> None:
    async def body() -> None:
        undone: list[int] = []

        async def work() -> int:
            await asyncio.sleep(0.05)
            return 7

        async def undo(value: int) -> None:
            undone.append(value)

        caller = asyncio.create_task(run_to_end(work(), undo))
        await asyncio.sleep(0.01)
        caller.cancel()
        await asyncio.sleep(0)
        caller.cancel()  # a second cancellation does not cut the work short either
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert undone == [7]
        assert await run_to_end(work(), undo) == 7
        assert undone == [7]

    asyncio.run(body())
