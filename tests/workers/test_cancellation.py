"""Cancellation at every stage of a lease leaves the pool usable: no process, no slot, no failure held.

The SIMULATED REPL imports slowly here, so a cancellation can land while the
worker starts (spawning) or imports; the stage is caught from the pool's own
state changes, not from sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from lean_batchd.plan.keys import SessionKey
from lean_batchd.workers.failures import FailureKind, WorkerFailure
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.protocol import CommandReply
from lean_batchd.workers.worker import WorkerInfo
from tests.conftest import until
from tests.workers.conftest import KeyFactory, worker_processes
from tests.workers.test_pool import run

IMPORT = 1.0


async def use(pool: WorkerPool, key: SessionKey, command: str = "#check Nat") -> CommandReply:
    async with pool.lease(key) as lease:
        reply = await lease.run(command)
        assert isinstance(reply, CommandReply), reply
        return reply


def on_state(pool: WorkerPool, state: str, action: Callable[[], None]) -> None:
    """Run `action` the first time any worker enters `state` (called on the loop, synchronously)."""
    fired: list[bool] = []

    def listener(info: WorkerInfo) -> None:
        if str(info.state) == state and not fired:
            fired.append(True)
            action()

    pool.on_change(listener)


def failures(pool: WorkerPool) -> dict[str, float]:
    return {k: v for k, v in pool.counters.items() if k.startswith("failures_")}


async def cancelled_at(pool: WorkerPool, key: SessionKey, stage: str) -> None:
    """Start a lease on `key` and cancel it when its worker reaches `stage`."""
    task: asyncio.Task[Any] = asyncio.create_task(use(pool, key, "-- sim:slow=5"))
    if stage == "running":
        on_state(pool, "busy", lambda: asyncio.get_running_loop().call_later(0.2, task.cancel))
    else:
        on_state(pool, stage, task.cancel)
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("stage", ["starting", "importing", "running"])
def test_a_lease_cancelled_at_any_stage_leaves_the_session_usable(make_key: KeyFactory, stage: str) -> None:
    key = make_key("A", import_seconds=IMPORT)

    async def body(pool: WorkerPool) -> None:
        await cancelled_at(pool, key, stage)
        assert [str(w.state) for w in pool.workers if str(w.state) == "busy"] == []  # no lease holds a worker
        reply = await use(pool, key)  # served after at most one import, not a queue timeout
        assert reply.env >= 1
        assert failures(pool) == {}  # a cancellation is not the worker's failure
        assert len(worker_processes()) == 2  # one guard, one REPL: nothing of the cancelled start is left

    # queue_timeout below two imports: the old pool left the cancelled start `importing` for ever
    run(PoolConfig(max_workers=1, queue_timeout=2 * IMPORT + 1.0), body)


def test_an_abandoned_start_becomes_the_sessions_warm_worker(make_key: KeyFactory) -> None:
    key = make_key("A", import_seconds=IMPORT)

    async def body(pool: WorkerPool) -> None:
        await cancelled_at(pool, key, "importing")
        assert await until(lambda: [str(w.state) for w in pool.workers] == ["warm"], 2 * IMPORT + 2)
        spawns = pool.counters["spawns"]
        await use(pool, key)
        assert pool.counters["spawns"] == spawns and pool.counters["reuses"] == 1  # the import was not paid twice
        assert pool.counters["starts_abandoned"] == 1

    run(PoolConfig(), body)


def test_a_lease_cancelled_in_the_queue_leaves_it(make_key: KeyFactory) -> None:
    a, b = make_key("A"), make_key("B")

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(a) as holder:
            waiting = asyncio.create_task(use(pool, b))
            assert await until(lambda: pool.snapshot().queue_depth == 1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert pool.snapshot().queue_depth == 0
            assert [w.key for w in pool.workers] == [a]
            assert isinstance(await holder.run("#check Nat"), CommandReply)
        await use(pool, b)  # evicts A's idle worker: the cancelled waiter holds nothing

    run(PoolConfig(max_workers=1, queue_timeout=5), body)


@pytest.mark.parametrize("steps", range(4))
def test_a_lease_cancelled_as_it_is_woken_still_ends(make_key: KeyFactory, steps: int) -> None:
    """`asyncio.wait_for` of Python 3.11 returns the awaited result when a cancellation lands just
    as that result arrives: the cancelled lease went on waiting (and then ran its request for a
    client long gone). Seen in CI as a queue entry left behind by 100 vanishing clients."""
    a, b = make_key("A"), make_key("B")

    async def body(pool: WorkerPool) -> None:
        holder = await pool.acquire(a)
        assert not isinstance(holder, WorkerFailure)
        waiting = asyncio.create_task(use(pool, b))
        assert await until(lambda: pool.snapshot().queue_depth == 1)
        pool.release(holder)  # wakes the waiter
        for _ in range(steps):
            await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 10)
        assert pool.snapshot().queue_depth == 0
        assert [str(w.state) for w in pool.workers if str(w.state) == "busy"] == []

    run(PoolConfig(max_workers=1, queue_timeout=5), body)


def test_an_abandoned_start_is_evicted_for_a_lease_on_another_session(make_key: KeyFactory) -> None:
    slow, other = make_key("Slow", import_seconds=30), make_key("Other")

    async def body(pool: WorkerPool) -> None:
        await cancelled_at(pool, slow, "importing")
        await use(pool, other)  # the old pool waited for Slow's 30 s import (then timed out)
        assert pool.counters["evictions_unclaimed_start"] == 1
        assert [w.key for w in pool.workers] == [other]
        assert failures(pool) == {}

    run(PoolConfig(max_workers=1, queue_timeout=5), body)


def test_many_cancellations_never_reach_the_restart_limit(make_key: KeyFactory) -> None:
    key = make_key("A")

    async def body(pool: WorkerPool) -> None:
        for _ in range(6):
            await cancelled_at(pool, key, "running")
        reply = await use(pool, key)
        assert reply.env >= 1
        assert pool.counters["restarts_cancelled"] == 6 and failures(pool) == {}

    run(PoolConfig(restart_limit=3, backoff_base=2.0), body)


def test_cancelling_many_leases_at_once_on_one_session(make_key: KeyFactory) -> None:
    """A crowd of requests on one session, all cancelled mid-way (clients resetting)."""
    key = make_key("A", import_seconds=0.5)

    async def body(pool: WorkerPool) -> None:
        tasks = [asyncio.create_task(use(pool, key, "-- sim:slow=3")) for _ in range(30)]
        await asyncio.sleep(0.8)  # one is running, the rest queue behind it
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert pool.snapshot().queue_depth == 0
        reply = await use(pool, key)
        assert reply.env >= 1 and failures(pool) == {}

    run(PoolConfig(max_workers=2, queue_timeout=3), body)


def test_a_start_failure_still_reaches_the_lease_that_waits(make_key: KeyFactory, tmp_path: Any) -> None:
    async def body(pool: WorkerPool) -> None:
        got = await pool.acquire(make_key("A", root=tmp_path / "missing"))
        assert isinstance(got, WorkerFailure) and got.kind is FailureKind.SPAWN_FAILED
        assert pool.workers == []

    run(PoolConfig(), body)


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.05, 0.3])
def test_a_prewarm_evicted_at_any_point_of_its_start_leaves_nothing(make_key: KeyFactory, delay: float) -> None:
    """Evicted before its start ran, while spawning, or while importing: no process, no entry."""
    slow, other = make_key("Slow", import_seconds=30), make_key("Other")

    async def body(pool: WorkerPool) -> None:
        assert pool.prewarm(slow)
        if delay:
            await asyncio.sleep(delay)
        await use(pool, other)
        assert [w.key for w in pool.workers] == [other]
        assert await until(lambda: len(worker_processes()) == 2)

    run(PoolConfig(max_workers=1, queue_timeout=5), body)
