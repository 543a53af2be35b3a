"""Bounded memory: derived defaults, ceilings, recycling with warm spares, machine pressure, RLIMIT_AS.

Workers are the SIMULATED REPL allocating real private memory (on import, per
command, and on `-- sim:grow=MB`), measured through the same process-tree
accounting the pool uses. Only the machine's available memory is injected
(the pressure tests): starving this shared machine for real would hurt every
other process on it.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from lean_batchd.plan.keys import SessionKey
from lean_batchd.testing import simulated_repl_command
from lean_batchd.workers.failures import FailureKind, LeaseRefused, WorkerFailure
from lean_batchd.workers.limits import MachineMemory, MemoryLimits, machine_memory
from lean_batchd.workers.memory import measure_tree
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.protocol import CommandReply
from lean_batchd.workers.worker import WorkerInfo
from tests.conftest import until
from tests.workers.conftest import KeyFactory, worker_processes
from tests.workers.test_pool import run


async def reply_of(pool: WorkerPool, key: SessionKey, command: str = "#check Nat") -> Any:
    try:
        async with pool.lease(key) as lease:
            return await lease.run(command)
    except LeaseRefused as refused:
        return refused.failure


# -- defaults ----------------------------------------------------------------------------


def test_the_default_budget_is_derived_from_the_machine() -> None:
    laptop = MachineMemory(total_mb=16_000, available_mb=9_000, source="test")
    limits = MemoryLimits.derived(laptop)
    assert limits.budget_mb == 6_750  # min(half of 16 GB, 3/4 of the 9 GB available)
    assert limits.worker_max_mb == pytest.approx(0.75 * 6_750)
    assert limits.worker_hard_mb == 6_750  # twice the soft ceiling, capped at the budget
    assert limits.floor_mb == 1_600 and limits.growth_limit(1_000) == 1_000 and limits.growth_limit(10) == 256
    idle_machine = MemoryLimits.derived(MachineMemory(64_000, 60_000, "test"))
    assert idle_machine.budget_mb == 32_000 and idle_machine.floor_mb == 2048
    mine = MemoryLimits.derived(laptop, budget_mb=3_000, worker_max_mb=1_000)
    assert (mine.budget_mb, mine.worker_max_mb, mine.worker_hard_mb) == (3_000, 1_000, 2_000)
    off = MemoryLimits.derived(laptop, bounded=False)
    assert off.budget_mb is None and off.worker_max_mb is None and off.floor_mb == 1_600

    here = machine_memory()
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert here.total_mb == pytest.approx(int(meminfo["MemTotal"].split()[0]) / 1024) or here.source.startswith(
        "cgroup"
    )
    assert 0 < here.available_mb <= here.total_mb


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_containers_memory_limit_lowers_the_machine(tmp_path: Path, version: str) -> None:
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal:       24684084 kB\nMemFree: 1 kB\nMemAvailable:   20000000 kB\n")
    if version == "v2":
        (proc / "self/cgroup").write_text("0::/ci/job\n")
        folder, limit, used, stat = cgroups / "ci/job", "memory.max", "memory.current", "inactive_file"
        (cgroups / "ci").mkdir(parents=True)
        (cgroups / "ci/memory.max").write_text("max\n")
    else:
        (proc / "self/cgroup").write_text("5:cpu:/\n4:memory:/ci/job\n0::/\n")
        folder, limit, used, stat = cgroups / "memory/ci/job", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"  # fmt: skip
    folder.mkdir(parents=True)
    (folder / limit).write_text(f"{4 * 2**30}\n")
    (folder / used).write_text(f"{2 * 2**30}\n")
    (folder / "memory.stat").write_text(f"anon 1\n{stat} {512 * 2**20}\n")
    found = machine_memory(proc, cgroups)
    assert (found.total_mb, found.available_mb) == (4096, 4096 - 2048 + 512)
    assert found.source == f"cgroup {folder}"
    limits = MemoryLimits.derived(found)
    assert limits.budget_mb == 0.75 * 2560  # the container's figures, not the host's 24 GB


# -- the stand-in grows --------------------------------------------------------------------


def test_the_stand_in_grows_per_command_and_on_request(make_key: KeyFactory) -> None:
    key = make_key("A", memory_mb=20, memory_mb_per_command=30)

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(key) as lease:
            assert lease.worker.process is not None
            pid = lease.worker.process.pid
            after_import = measure_tree(pid).charge_mb
            for _ in range(3):
                assert isinstance(await lease.run("def x := 1"), CommandReply)
            grown = measure_tree(pid).charge_mb
            assert 3 * 30 - 5 <= grown - after_import <= 3 * 30 + 15
            assert isinstance(await lease.run("-- sim:grow=100"), CommandReply)
            assert 100 + 30 - 5 <= measure_tree(pid).charge_mb - grown <= 100 + 30 + 15

    run(PoolConfig(), body)


# -- ceilings -------------------------------------------------------------------------------


def test_a_soft_ceiling_recycles_after_the_request_with_a_spare_already_warming(make_key: KeyFactory) -> None:
    key = make_key("A", memory_mb=20, import_seconds=0.5)
    events: list[tuple[int, str]] = []

    async def body(pool: WorkerPool) -> None:
        pool.on_change(lambda info: events.append((info.id, str(info.state))))
        async with pool.lease(key) as lease:
            first = lease.worker
            reply = await lease.run("-- sim:grow=120 -- sim:slow=1.5")
            assert isinstance(reply, CommandReply)  # the request itself finished
            assert first.recycle_reason == "memory-ceiling"
        spare_started = events.index(next(e for e in events if e[0] != first.id and e[1] == "starting"))
        first_released = events.index((first.id, "retiring"))
        assert spare_started < first_released  # warming while the last request still ran
        assert await until(lambda: [str(w.state) for w in pool.workers] == ["warm"], 5)
        spawns = pool.counters["spawns"]
        async with pool.lease(key) as lease:
            assert lease.worker is not first and pool.counters["spawns"] == spawns  # no import waited for
            info: WorkerInfo = lease.worker.info()
            assert info.recycles == 1 and info.growth_mb < 20
        assert pool.recycles == {"memory-ceiling": 1}
        snap = pool.snapshot().to_json()
        assert snap["recycles"] == {"memory-ceiling": 1} and snap["peakChargedMb"] > 120  # type: ignore[operator]

    run(PoolConfig(memory=MemoryLimits(worker_max_mb=100, worker_hard_mb=400)), body)


def test_growth_since_import_recycles_with_a_spare_a_request_ahead(make_key: KeyFactory) -> None:
    key = make_key("A", memory_mb=60, memory_mb_per_command=25, import_seconds=0.3)

    async def body(pool: WorkerPool) -> None:
        pids = set()
        for _ in range(10):
            async with pool.lease(key) as lease:
                assert lease.worker.process is not None
                pids.add(lease.worker.process.pid)
                assert isinstance(await lease.run("-- sim:slow=0.4"), CommandReply)
                assert lease.worker.growth_mb <= 90 + 25 + 10  # never far past the limit
        assert len(pids) >= 3 and pool.recycles["memory-growth"] >= 2
        assert pool.counters["spawns_leased"] == 1  # after the first, every lease found a warm worker

    run(PoolConfig(memory=MemoryLimits(max_growth_mb=90)), body)


def test_a_hard_ceiling_stops_the_request_with_a_memory_failure_and_leaves_nothing(make_key: KeyFactory) -> None:
    key = make_key("A", memory_mb=20)

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(key) as lease:
            assert lease.worker.process is not None
            pid = lease.worker.process.pid
            began = time.monotonic()
            failure = await lease.run("-- sim:grow=300 -- sim:slow=30")
            assert isinstance(failure, WorkerFailure) and failure.kind is FailureKind.MEMORY, failure
            assert "hard ceiling of 150 MB" in failure.message
            assert time.monotonic() - began < 10
        assert await until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie")
        assert await until(lambda: [str(w.state) for w in pool.workers] == ["warm"], 5)  # a replacement warmed
        assert len(worker_processes()) == 2
        assert pool.recycles == {"memory-hard": 1}
        assert isinstance(await reply_of(pool, key), CommandReply)

    run(PoolConfig(memory=MemoryLimits(worker_max_mb=100, worker_hard_mb=150)), body)


def test_the_budget_holds_while_workers_grow(make_key: KeyFactory) -> None:
    """Two sessions growing side by side would reach twice 400 MB; the budget is 500 MB."""
    keys = [make_key(n, memory_mb=100, memory_mb_per_command=30) for n in "AB"]
    budget = 500.0
    peak = [0.0]

    async def body(pool: WorkerPool) -> None:
        async def sample() -> None:
            while True:
                total = sum(
                    measure_tree(p.pid).charge_mb for p in worker_processes() if "guard" in " ".join(p.cmdline())
                )
                peak[0] = max(peak[0], total)
                await asyncio.sleep(0.05)

        async def lane(key: SessionKey) -> list[Any]:
            return [await reply_of(pool, key, "-- sim:slow=0.05") for _ in range(10)]

        sampler = asyncio.create_task(sample())
        replies = await asyncio.gather(*(lane(k) for k in keys))
        sampler.cancel()
        assert all(isinstance(r, CommandReply) for lane_replies in replies for r in lane_replies)
        assert pool.recycles["memory-budget"] >= 1

    run(PoolConfig(max_workers=2, memory=MemoryLimits(budget_mb=budget)), body)
    assert peak[0] <= budget


# -- machine pressure -------------------------------------------------------------------------


@dataclass
class Machine:
    available_mb: float = 8_000.0

    def __call__(self) -> MachineMemory:
        return MachineMemory(16_000.0, self.available_mb, "test")


def test_machine_pressure_sheds_idle_workers_first_then_holds_new_ones(make_key: KeyFactory) -> None:
    a, b, c, d = (make_key(n) for n in "ABCD")
    machine = Machine()

    async def body(pool: WorkerPool) -> None:
        for key in (a, b):
            assert isinstance(await reply_of(pool, key), CommandReply)
        busy = asyncio.create_task(reply_of(pool, c, "-- sim:slow=2"))
        assert await until(lambda: any(str(w.state) == "busy" for w in pool.workers))
        machine.available_mb = 900.0  # under the 1,000 MB floor
        assert await until(lambda: [w.key for w in pool.workers] == [c], 3)  # idle A and B shed, C runs on
        assert pool.counters["evictions_memory_pressure"] == 2
        waiting = asyncio.create_task(reply_of(pool, d))
        await asyncio.sleep(0.5)
        assert not waiting.done() and pool.snapshot().pressure  # no new worker while short
        machine.available_mb = 8_000.0
        assert isinstance(await waiting, CommandReply)
        assert isinstance(await busy, CommandReply)  # the busy worker was never touched

    run(PoolConfig(memory=MemoryLimits(floor_mb=1_000), machine=machine), body)


def test_lasting_pressure_refuses_with_a_typed_reason_and_the_worst_grower_is_stopped(make_key: KeyFactory) -> None:
    machine = Machine()

    async def body(pool: WorkerPool) -> None:
        small = asyncio.create_task(reply_of(pool, make_key("Small"), "-- sim:slow=3"))
        big = asyncio.create_task(reply_of(pool, make_key("Big"), "-- sim:grow=80 -- sim:slow=3"))
        assert await until(lambda: sum(w.growth_mb > 60 for w in pool.workers) == 1, 5)
        machine.available_mb = 900.0
        refused = await reply_of(pool, make_key("New"))
        assert isinstance(refused, WorkerFailure) and refused.kind is FailureKind.MEMORY_PRESSURE
        assert "900 MB available" in refused.message
        machine.available_mb = 400.0  # under half the floor, nothing idle left to shed
        stopped = await big
        assert isinstance(stopped, WorkerFailure) and stopped.kind is FailureKind.MEMORY
        assert "ran short of memory" in stopped.message
        machine.available_mb = 8_000.0
        assert isinstance(await small, CommandReply)  # the one that grew least finished
        assert pool.recycles["memory-pressure"] == 1

    run(PoolConfig(memory=MemoryLimits(floor_mb=1_000), machine=machine, queue_timeout=0.6), body)


# -- RLIMIT_AS ------------------------------------------------------------------------------


def _address_space_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return line.split()[3]
    return ""


def test_an_address_space_limit_applies_to_the_whole_tree(make_key: KeyFactory) -> None:
    sim = simulated_repl_command(memory_mb=20)
    wrapper = (sys.executable, "-c", f"import subprocess, sys; sys.exit(subprocess.call({list(sim)!r}))")
    key = replace(make_key("A"), worker_command=wrapper)

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(key) as lease:
            assert lease.worker.process is not None
            guard = psutil.Process(lease.worker.process.pid)
            tree = guard.children(recursive=True)
            assert len(tree) == 2  # `lake env`'s place is taken by the wrapper, then the REPL
            assert {_address_space_limit(p.pid) for p in tree} == {str(600 * 2**20)}
            assert _address_space_limit(guard.pid) == "unlimited"  # the guard itself is not limited
            failure = await lease.run("-- sim:grow=900")
            assert isinstance(failure, WorkerFailure) and failure.kind is FailureKind.MEMORY
            assert "INTERNAL PANIC: out of memory" in failure.stderr
        assert pool.recycles == {"out-of-memory": 1}

    run(PoolConfig(memory=MemoryLimits(address_space_mb=600)), body)


# -- one outcome per request ------------------------------------------------------------------


def test_soak_under_memory_limits_every_request_gets_exactly_one_outcome(make_key: KeyFactory) -> None:
    keys = [make_key(f"K{i}", memory_mb=20, memory_mb_per_command=8) for i in range(3)]
    rnd = random.Random(12)
    outcomes: dict[int, list[str]] = {}

    async def body(pool: WorkerPool) -> None:
        async def one(i: int) -> None:
            grow = "-- sim:grow=200 -- sim:slow=0.5" if rnd.random() < 0.05 else "def x := 1"
            got = await reply_of(pool, rnd.choice(keys), grow)
            outcomes.setdefault(i, []).append(got.kind if isinstance(got, WorkerFailure) else type(got).__name__)

        sem = asyncio.Semaphore(6)

        async def bounded(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(bounded(i) for i in range(300)))
        assert pool.recycles["memory-hard"] >= 3 and pool.recycles["memory-growth"] >= 3

    limits = MemoryLimits(budget_mb=600, worker_max_mb=150, worker_hard_mb=200, max_growth_mb=60)
    run(PoolConfig(max_workers=4, memory=limits, queue_timeout=60, restart_limit=100), body)
    assert sorted(outcomes) == list(range(300)) and all(len(v) == 1 for v in outcomes.values())
    assert {v[0] for v in outcomes.values()} <= {"CommandReply", "memory"}
