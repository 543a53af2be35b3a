"""The worker pool against the SIMULATED REPL: reuse, concurrency, limits, faults, staleness."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from lean_batchd.workers.failures import FailureKind, LeaseRefused, WorkerFailure
from lean_batchd.workers.limits import MemoryLimits
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.protocol import CommandReply, ReplError
from tests.conftest import REPO
from tests.workers.conftest import KeyFactory, wait_until, worker_processes

T = TypeVar("T")


def run(pool_config: PoolConfig, body: Callable[[WorkerPool], Awaitable[T]]) -> T:
    async def main() -> T:
        pool = WorkerPool(pool_config)
        try:
            return await body(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


async def pid_of(pool: WorkerPool, key: Any, command: str = "#check Nat") -> int:
    async with pool.lease(key) as lease:
        reply = await lease.run(command)
        assert isinstance(reply, CommandReply), reply
        assert lease.worker.process is not None
        return lease.worker.process.pid


def test_reuse_on_one_key(make_key: KeyFactory) -> None:
    key = make_key("A", import_seconds=0.2)

    async def body(pool: WorkerPool) -> None:
        first = await pid_of(pool, key)
        t = time.monotonic()
        second = await pid_of(pool, key)
        assert first == second and time.monotonic() - t < 0.2  # no second import
        assert pool.counters["spawns"] == 1 and pool.counters["reuses"] == 1
        async with pool.lease(key) as lease:
            reply = await lease.run("theorem t : True := by sorry")
            assert isinstance(reply, CommandReply) and reply.env == 3 and len(reply.sorries) == 1
            assert lease.worker.base_env == 0

    run(PoolConfig(), body)


def test_leases_on_different_keys_run_concurrently(make_key: KeyFactory) -> None:
    keys = [make_key(n) for n in "ABC"]

    async def body(pool: WorkerPool) -> float:
        for k in keys:
            await pid_of(pool, k)
        t = time.monotonic()
        await asyncio.gather(*(pid_of(pool, k, "-- sim:slow=0.6") for k in keys))
        return time.monotonic() - t

    assert run(PoolConfig(max_workers=3), body) < 1.2


def test_a_hot_key_gets_several_workers(make_key: KeyFactory) -> None:
    key = make_key("A")

    async def body(pool: WorkerPool) -> set[int]:
        return set(await asyncio.gather(*(pid_of(pool, key, "-- sim:slow=0.4") for _ in range(3))))

    assert len(run(PoolConfig(max_workers=4, max_workers_per_key=3), body)) == 3


def test_lru_eviction(make_key: KeyFactory) -> None:
    a, b, c = make_key("A"), make_key("B"), make_key("C")

    async def body(pool: WorkerPool) -> None:
        pid_a = await pid_of(pool, a)
        await pid_of(pool, b)
        assert await pid_of(pool, a) == pid_a  # A is now more recent than B
        await pid_of(pool, c)  # full: evict the least recently used, B
        await asyncio.sleep(0.3)
        live = {w.key_digest for w in pool.snapshot().workers if w.state in ("warm", "busy")}
        assert live == {a.digest, c.digest}
        assert pool.counters["evictions_lru"] == 1
        assert await pid_of(pool, a) == pid_a

    run(PoolConfig(max_workers=2), body)


def test_queue_is_fifo_and_times_out(make_key: KeyFactory) -> None:
    keys = [make_key(n) for n in "ABC"]
    order: list[str] = []

    async def body(pool: WorkerPool) -> None:
        async def hold(key: Any, name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            async with pool.lease(key) as lease:
                order.append(name)
                await lease.run("-- sim:slow=0.3")

        await asyncio.gather(hold(keys[0], "first", 0), hold(keys[1], "second", 0.05), hold(keys[2], "third", 0.1))
        assert order == ["first", "second", "third"]
        assert pool.counters["queue_waits"] == 2 and pool.counters["queue_wait_seconds"] > 0.3

    async def times_out(pool: WorkerPool) -> None:
        async with pool.lease(keys[0]):
            got = await pool.acquire(keys[1])
            assert isinstance(got, WorkerFailure) and got.kind is FailureKind.QUEUE_TIMEOUT
            assert pool.snapshot().queue_depth == 0

    run(PoolConfig(max_workers=1, queue_timeout=60.0), body)  # room for slow starts on a loaded machine
    run(PoolConfig(max_workers=1, queue_timeout=0.5), times_out)


def test_lease_refused_is_a_typed_error(make_key: KeyFactory) -> None:
    async def body(pool: WorkerPool) -> None:
        async with pool.lease(make_key("A")):
            with pytest.raises(LeaseRefused) as refused:
                async with pool.lease(make_key("B")):
                    pass
            assert refused.value.failure.kind is FailureKind.QUEUE_TIMEOUT

    run(PoolConfig(max_workers=1, queue_timeout=0.2), body)


def test_memory_budget_is_respected_and_memory_is_measured_right(make_key: KeyFactory) -> None:
    keys = [make_key(n, memory_mb=40, mapped_mb=60) for n in "ABCDEF"]
    peaks: list[float] = []

    async def body(pool: WorkerPool) -> None:
        async def sample() -> None:
            while True:
                for w in pool.workers:
                    pool._measure(w)
                peaks.append(sum(w.memory.charge_mb for w in pool.workers))
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        for k in keys:
            await pid_of(pool, k)
        sampler.cancel()
        w = pool.snapshot().workers[-1]
        assert w.memory.rss_kb > w.memory.private_kb + 50 * 1024  # the mapped "oleans" are not charged
        assert w.memory.processes == 2  # the guard and the REPL

    budget = 150.0
    config = PoolConfig(
        max_workers=10, memory=MemoryLimits(budget_mb=budget), estimate_base_mb=55, estimate_per_module_mb=0
    )
    run(config, body)
    one_worker = 55.0
    assert max(peaks) <= budget + one_worker


def test_a_worker_too_big_for_the_budget_is_refused(make_key: KeyFactory) -> None:
    async def body(pool: WorkerPool) -> None:
        got = await pool.acquire(make_key("A"), closure_size=5000)
        assert isinstance(got, WorkerFailure) and got.kind is FailureKind.MEMORY_REFUSED
        assert pool.counters["memory_refusals"] == 1

    run(PoolConfig(memory=MemoryLimits(budget_mb=1000), estimate_per_module_mb=1), body)


def test_idle_workers_are_reaped_on_a_timer(make_key: KeyFactory) -> None:
    key = make_key("A")

    async def body(pool: WorkerPool) -> None:
        first = await pid_of(pool, key)
        await asyncio.sleep(0.9)
        assert [w.state for w in pool.snapshot().workers] == []
        assert pool.counters["retired_idle"] == 1
        assert await pid_of(pool, key) != first

    run(PoolConfig(idle_ttl=0.3, housekeeping_interval=0.1), body)


def test_max_requests_recycles(make_key: KeyFactory) -> None:
    key = make_key("A")

    async def body(pool: WorkerPool) -> None:
        pids = [await pid_of(pool, key) for _ in range(3)]
        assert pids[0] == pids[1] != pids[2]
        assert pool.counters["retired_max-requests"] == 1

    run(PoolConfig(max_requests=2), body)


@pytest.mark.parametrize(("fault", "kind"), [("-- sim:crash", FailureKind.CRASH), ("-- sim:hang", FailureKind.TIMEOUT)])
def test_crash_and_timeout_recover_with_a_warm_replacement(make_key: KeyFactory, fault: str, kind: FailureKind) -> None:
    key = make_key("A", import_seconds=0.1)

    async def body(pool: WorkerPool) -> None:
        first = await pid_of(pool, key)
        async with pool.lease(key) as lease:
            failure = await lease.run(fault, timeout=0.5)
            assert isinstance(failure, WorkerFailure) and failure.kind is kind
            assert "SIMULATED" in failure.stderr
            again = await lease.run("#check Nat")
            assert again == failure  # the lease lost its worker; it says so, consistently
        assert await asyncio.to_thread(wait_until, lambda: any(w.state == "warm" for w in pool.snapshot().workers))
        spawns = pool.counters["spawns"]
        assert await pid_of(pool, key) != first
        assert pool.counters["spawns"] == spawns  # the replacement was already warm
        assert pool.counters[f"restarts_{kind}"] == 1

    run(PoolConfig(), body)


def test_cancelling_a_request_kills_and_replaces(make_key: KeyFactory) -> None:
    key = make_key("A")

    async def body(pool: WorkerPool) -> None:
        first = await pid_of(pool, key)

        async def slow() -> None:
            async with pool.lease(key) as lease:
                await lease.run("-- sim:slow=5")

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.counters["restarts_cancelled"] == 1
        assert await pid_of(pool, key) != first

    run(PoolConfig(), body)


def test_stale_workers_finish_then_retire(make_key: KeyFactory) -> None:
    key, other = make_key("A"), make_key("B")

    async def body(pool: WorkerPool) -> None:
        first = await pid_of(pool, key)
        await pid_of(pool, other)
        async with pool.lease(key) as lease:
            running = asyncio.create_task(lease.run("-- sim:slow=0.3"))
            await asyncio.sleep(0.05)
            assert pool.invalidate(lambda k: k == key, prewarm=True) == 1
            assert isinstance(await running, CommandReply)  # the current request finishes
        assert await asyncio.to_thread(wait_until, lambda: sum(w.state == "warm" for w in pool.snapshot().workers) == 2)
        assert await pid_of(pool, key) != first
        assert pool.counters["retired_stale"] == 1

    run(PoolConfig(), body)


def test_env_ids_of_another_process_are_refused(make_key: KeyFactory) -> None:
    from lean_batchd.workers.protocol import Command

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(make_key("A")) as lease:
            refused = await lease.run(Command("x", env=41))
            assert isinstance(refused, WorkerFailure) and refused.kind is FailureKind.INVALID_REQUEST
            chained = await lease.run("def a := 1")
            assert isinstance(chained, CommandReply)
            ok = await lease.run(Command("#check a", env=chained.env))
            assert isinstance(ok, CommandReply)
            assert lease.lost is None

    run(PoolConfig(), body)


def test_a_failing_import_is_typed_and_rate_limited(make_key: KeyFactory, tmp_path: Any) -> None:
    key = make_key("A", root=tmp_path / "missing")

    async def body(pool: WorkerPool) -> None:
        kinds = []
        for _ in range(3):
            got = await pool.acquire(key)
            assert isinstance(got, WorkerFailure)
            kinds.append(got.kind)
        assert kinds == [FailureKind.SPAWN_FAILED, FailureKind.SPAWN_FAILED, FailureKind.RESTART_LIMIT]

    run(PoolConfig(restart_limit=2, backoff_base=0.01), body)


def test_snapshot_and_listeners(make_key: KeyFactory) -> None:
    key = make_key("A")
    seen: list[str] = []

    async def body(pool: WorkerPool) -> None:
        pool.on_change(lambda info: seen.append(str(info.state)))
        assert pool.prewarm(key)
        assert not pool.prewarm(key)
        await asyncio.to_thread(wait_until, lambda: any(w.state == "warm" for w in pool.snapshot().workers))
        snap = pool.snapshot().to_json()
        (w,) = snap["workers"]  # type: ignore[misc]
        assert w["sessionKey"] == key.digest and w["imports"] == ["import A"] and w["pid"]
        assert snap["counters"]["prewarms"] == 1 and key.digest in snap["importSeconds"]  # type: ignore[index]

    run(PoolConfig(), body)
    assert seen[:3] == ["starting", "importing", "warm"] and seen[-1] == "dead"


def test_sigkill_of_the_owner_leaves_no_workers() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(REPO)!r})
        from tests.workers.conftest import DEMO
        from lean_batchd.lake.header import Import
        from lean_batchd.plan.keys import Profile, SessionKey
        from lean_batchd.testing import simulated_repl_command
        from lean_batchd.workers.pool import PoolConfig, WorkerPool

        def key(name):
            return SessionKey(str(DEMO), "demo", None, ".", False, False, (Import(name),), Profile.HEADER,
                              "sim", "repl", "p", simulated_repl_command())

        async def main():
            pool = WorkerPool(PoolConfig(max_workers=4, request_timeout=None))
            for name in "ABC":
                async with pool.lease(key(name)) as lease:
                    await lease.run("#check Nat")
            async with pool.lease(key("D")) as lease:
                print("ready", flush=True)
                await lease.run("-- sim:hang")

        asyncio.run(main())
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
    assert wait_until(lambda: len(worker_processes()) >= 8)  # 4 guards and 4 REPLs, one hung
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert wait_until(lambda: not worker_processes(), timeout=10)


def test_soak_every_request_gets_exactly_one_outcome(make_key: KeyFactory) -> None:
    keys = [make_key(f"K{i}") for i in range(20)]
    rnd = random.Random(20261128)
    outcomes: dict[int, list[str]] = {}

    async def body(pool: WorkerPool) -> None:
        async def one(i: int) -> None:
            roll = rnd.random()
            text = "-- sim:crash" if roll < 0.05 else "-- sim:hang" if roll < 0.07 else "theorem t : True := by sorry"
            try:
                async with pool.lease(rnd.choice(keys)) as lease:
                    reply = await lease.run(text, timeout=0.3)
                    outcome = reply.kind if isinstance(reply, WorkerFailure) else type(reply).__name__
            except LeaseRefused as refused:
                outcome = f"refused:{refused.failure.kind}"
            outcomes.setdefault(i, []).append(str(outcome))

        sem = asyncio.Semaphore(12)

        async def bounded(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(bounded(i) for i in range(1000)))
        counters = pool.counters
        assert counters["crashes"] + counters["timeouts"] > 40

    run(PoolConfig(max_workers=8, max_workers_per_key=2, queue_timeout=60, restart_limit=100), body)
    assert sorted(outcomes) == list(range(1000)) and all(len(v) == 1 for v in outcomes.values())
    kinds = {v[0] for v in outcomes.values()}
    assert kinds <= {"CommandReply", "crash", "timeout"}, kinds
    assert not any(isinstance(v, ReplError) for v in outcomes.values())


def test_a_worker_over_its_memory_ceiling_retires(make_key: KeyFactory) -> None:
    key = make_key("A")

    async def body(pool: WorkerPool) -> None:
        first = await pid_of(pool, key)
        async with pool.lease(key) as lease:
            await lease.run("-- sim:grow=80")
            await asyncio.sleep(0.35)  # housekeeping samples the busy worker
        assert pool.counters["retired_memory-ceiling"] == 1
        assert await pid_of(pool, key) != first

    run(PoolConfig(memory=MemoryLimits(worker_max_mb=60), housekeeping_interval=0.1), body)


def test_concurrent_leases_never_exceed_max_workers(make_key: KeyFactory) -> None:
    keys = [make_key(f"K{i}", import_seconds=0.1) for i in range(10)]
    live_counts: list[int] = []

    async def body(pool: WorkerPool) -> None:
        pool.on_change(
            lambda info: live_counts.append(
                sum(str(w.state) in ("starting", "importing", "warm", "busy") for w in pool.workers)
            )
        )
        replies = await asyncio.gather(*(pid_of(pool, keys[i % 10]) for i in range(30)))
        assert len(replies) == 30

    run(PoolConfig(max_workers=2), body)
    assert live_counts and max(live_counts) <= 2
