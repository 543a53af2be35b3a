"""The Ray executor on a real single-node Ray (one per module): outcomes and progress as on the
local pool, one actor call per batch, one actor per key, faults, reaping, re-attaching."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from lean_batchd.check_command import CheckOptions, differences, run_check, select_files
from lean_batchd.engine.checking import CheckReport, EngineTarget, Progress, check_sessions, plan_sessions
from lean_batchd.engine.engine import Engine
from lean_batchd.engine.outcome import FileOutcome, FileStatus
from lean_batchd.executors import ExecutorChoice
from lean_batchd.executors.ray_actors import PREFIX
from lean_batchd.testing.workload import generate_workload
from tests.conftest import DEMO, REPO, write_tree
from tests.executors.conftest import RayRun, ray_module
from tests.executors.helpers import (
    describe,
    engine_config,
    kill_actor,
    new_actor_pid,
    outcomes_with,
    ray_of,
    slow_project,
)

OPTIONS = CheckOptions(jobs=2, output="none", quiet=True, build_check=False, cache=False)


async def test_outcomes_equal_the_local_pools_file_by_file(local_ray: RayRun, demo: Path, tmp_path: Path) -> None:
    work = generate_workload(tmp_path / "work", files=24, headers=6)
    write_tree(work.root, {"Work/Files/Broken.lean": "import Work.Base.B0\n\n-- sim:error\ndef broken : Nat := 0\n"})
    for files in (select_files([str(demo)]), select_files([str(work.files)])):
        assert isinstance(files, list)
        local = await run_check(files, OPTIONS, engine_config(None), None)
        remote = await run_check(files, OPTIONS, engine_config(local_ray.namespace), None)
        local_ray.look()
        assert isinstance(local, CheckReport) and isinstance(remote, CheckReport)
        assert [o.path for o in remote.outcomes] == [o.path for o in local.outcomes] == sorted(files)
        assert differences(local, remote) == []
        assert [o.status for o in remote.outcomes] == [o.status for o in local.outcomes]
    assert {str(o.status) for o in remote.outcomes} == {"ok", "errors"}  # the workload's broken file
    assert any(o.sorries for o in remote.outcomes)


async def progress_of(namespace: str | None, files: list[str]) -> list[tuple[int, str, str | None, str | None]]:
    engine = Engine(engine_config(namespace))
    events: list[Progress] = []
    try:
        target = EngineTarget(engine, build_check=False, cache=False)
        groups = await plan_sessions(target, files, True)
        assert isinstance(groups, list)
        report = await check_sessions(target, groups, 1, True, events.append)
        assert isinstance(report, CheckReport)
    finally:
        await engine.close()
    return [
        (p.done, p.group.key, p.outcome.path if p.outcome else None, str(p.outcome.status) if p.outcome else None)
        for p in events
    ]


async def test_progress_is_as_on_the_local_pool(local_ray: RayRun, demo: Path) -> None:
    files = select_files([str(demo)])
    assert isinstance(files, list)
    local = await progress_of(None, files)
    remote = await progress_of(local_ray.namespace, files)
    assert remote == local
    assert sum(1 for e in remote if e[2] is None) == sum(1 for e in remote if e[2] is not None) == len(files)


async def test_one_call_per_batch_one_actor_per_key(local_ray: RayRun, tmp_path: Path) -> None:
    import ray

    paths = slow_project(tmp_path / "p", 4, 0.0)
    engine = Engine(engine_config(local_ray.namespace))
    other = Engine(engine_config(local_ray.namespace))
    try:
        first = await outcomes_with(engine, paths)
        assert [p for p, _ in first] == paths
        assert all(isinstance(o, FileOutcome) and o.status is FileStatus.OK for _, o in first)
        info = await describe(engine)
        assert info["batches"] == 1  # four files, one actor call
        (held,) = ray_of(engine).actors.values()
        assert held.name in ray.util.list_named_actors()
        await outcomes_with(engine, paths[:2])
        again = await describe(engine)
        assert (again["pid"], again["batches"]) == (info["pid"], 2)
        await outcomes_with(other, paths[:1])  # another driver, same key: the same named actor
        assert (await describe(other))["pid"] == info["pid"]
        await other.close()  # it used engine's actor, and leaves it running
        assert held.name in ray.util.list_named_actors()
        assert (await describe(engine))["batches"] == 3
        local_ray.look()
    finally:
        await other.close()
        await engine.close()
    assert held.name not in ray.util.list_named_actors()


async def test_a_killed_actor_is_replaced_and_its_files_retried_once(local_ray: RayRun, tmp_path: Path) -> None:
    paths = slow_project(tmp_path / "p", 5, 0.4)
    engine = Engine(engine_config(local_ray.namespace))
    try:
        first_pid: list[int] = []

        async def after(n: int) -> None:
            if n == 1:
                first_pid.append(int((await describe(engine))["pid"]))
                local_ray.look()
                kill_actor(first_pid[0])  # SIGKILL, as the kernel's OOM killer would

        got = await outcomes_with(engine, paths, after)
        assert [p for p, _ in got] == paths  # one outcome per file, in order
        assert all(isinstance(o, FileOutcome) and o.status is FileStatus.OK for _, o in got), got
        assert ray_of(engine).retried >= 1
        assert (await describe(engine))["pid"] != first_pid[0]
    finally:
        await engine.close()


async def test_lost_twice_is_node_lost_one_outcome_per_file(local_ray: RayRun, tmp_path: Path) -> None:
    paths = slow_project(tmp_path / "p", 4, 1.0)
    engine = Engine(engine_config(local_ray.namespace))
    killer: list[asyncio.Task[None]] = []
    try:

        async def kill_twice(pid: int) -> None:
            kill_actor(pid)
            kill_actor(await new_actor_pid(engine, pid))

        async def after(n: int) -> None:
            if n == 1:  # the batch goes on while the killer waits for the fresh actor
                killer.append(asyncio.create_task(kill_twice(int((await describe(engine))["pid"]))))

        got = await outcomes_with(engine, paths, after)
        await killer[0]
        assert [p for p, _ in got] == paths
        statuses = [o.status for _, o in got if isinstance(o, FileOutcome)]
        assert statuses[0] is FileStatus.OK
        assert statuses[1:] == [FileStatus.NODE_LOST] * 3
        lost = got[-1][1]
        assert isinstance(lost, FileOutcome) and lost.detail is not None and "lost" in lost.detail
    finally:
        await engine.close()


async def test_idle_actors_are_reaped(local_ray: RayRun, tmp_path: Path) -> None:
    import ray

    paths = slow_project(tmp_path / "p", 1, 0.0)
    engine = Engine(engine_config(local_ray.namespace, idle_ttl=0.5))
    try:
        await outcomes_with(engine, paths)
        (held,) = ray_of(engine).actors.values()
        for _ in range(200):
            if held.name not in ray.util.list_named_actors():
                break
            await asyncio.sleep(0.05)
        assert held.name not in ray.util.list_named_actors()
        assert not ray_of(engine).actors
    finally:
        await engine.close()


async def test_too_big_for_any_node_is_refused_with_the_reason(local_ray: RayRun, tmp_path: Path) -> None:
    paths = slow_project(tmp_path / "p", 2, 0.0)
    engine = Engine(engine_config(local_ray.namespace, estimate_base_mb=9000))
    try:
        got = await outcomes_with(engine, paths)
        assert [o.status for _, o in got if isinstance(o, FileOutcome)] == [FileStatus.MEMORY] * 2
        detail = got[0][1].detail if isinstance(got[0][1], FileOutcome) else None
        assert (
            detail is not None
            and "needs about 9001 MB of lean_memory_mb" in detail
            and "largest node has 4000" in detail
        )
    finally:
        await engine.close()


class Mute:
    """An actor under the executor's name prefix that cannot describe itself."""

    def ping(self) -> int:
        return 1


async def test_a_restarted_daemon_re_attaches_or_cleans_up(local_ray: RayRun, tmp_path: Path) -> None:
    import ray

    paths = slow_project(tmp_path / "p", 2, 0.0)
    crashed = Engine(engine_config(local_ray.namespace, detached=True))
    await outcomes_with(crashed, paths)
    before = await describe(crashed)
    reaper = ray_of(crashed).reaper_task()
    if reaper is not None:
        reaper.cancel()  # the daemon dies without closing: its detached actors live on
    mute_name = f"{PREFIX}mute.0"
    ray.remote(Mute).options(name=mute_name, lifetime="detached", num_cpus=0).remote()
    restarted = Engine(engine_config(local_ray.namespace, detached=True))
    try:
        notes = restarted.executor.start()
        assert any("re-attached" in n and before["key"] in n for n in notes), notes
        assert any("cleaned up" in n and mute_name in n for n in notes), notes
        assert mute_name not in ray.util.list_named_actors()
        got = await outcomes_with(restarted, paths)
        assert all(isinstance(o, FileOutcome) and o.status is FileStatus.OK for _, o in got)
        after = await describe(restarted)
        assert (after["pid"], after["batches"]) == (before["pid"], 2)  # the same warm actor
        sessions = restarted.status()["executor"]["sessions"]  # type: ignore[index]
        assert [s["key"] for s in sessions] == [before["key"]] and sessions[0]["adopted"]
        local_ray.look()
    finally:
        await restarted.close()
    assert not [n for n in ray.util.list_named_actors() if n.startswith(PREFIX)]


def test_check_command_line_starts_and_stops_its_own_ray(tmp_path: Path) -> None:
    """`check --executor ray --ray-address local`: a private Ray, gone (every process that
    carries this run's mark) when the command ends."""
    ray_module()
    mark = uuid.uuid4().hex
    env = {**os.environ, "LEAN_BATCHD_RAY_CASE": mark}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lean-batchd")), "check", str(DEMO), "--simulate", "--executor", "ray",
         "--ray-address", "local", "--json", "--no-cache", "-q"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    assert doc["summary"]["statuses"]["ok"] == doc["summary"]["files"] == len(select_files([str(DEMO)]))
    assert doc["summary"]["simulated"] is True
    left = []
    for _ in range(100):
        left = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.environ().get("LEAN_BATCHD_RAY_CASE") == mark:
                    left.append(proc.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if not left:
            break
        import time

        time.sleep(0.1)
    assert not left


def test_ray_is_imported_only_when_chosen() -> None:
    code = (
        "import sys, lean_batchd.cli as c, lean_batchd.engine.engine as e, lean_batchd.api; c.parser(); "
        "e.Engine(e.EngineConfig()); assert 'ray' not in sys.modules, 'ray imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def test_a_node_without_the_project_says_what_it_lacks(local_ray: RayRun, tmp_path: Path) -> None:
    from dataclasses import replace

    from lean_batchd import api
    from lean_batchd.executors import BatchItem, SessionBatch

    paths = slow_project(tmp_path / "p", 1, 0.0)
    engine = Engine(engine_config(local_ray.namespace))
    try:
        got = await engine.runnable(paths[0])
        assert isinstance(got, tuple)
        key = replace(got[1].key, project_root=str(tmp_path / "elsewhere"))
        answers = [a async for a in ray_of(engine).run_batch(SessionBatch(key, 1, (BatchItem("#check 1"),) * 2))]
        assert [a.index for a in answers] == [0, 1]
        failure = answers[0].answer
        assert isinstance(failure, api.WorkerFailure) and "lacks the project folder" in failure.message
        assert failure.kind.value == "spawn-failed"  # a file outcome `crashed`, as docs/scale-out.md says
        assert str(tmp_path / "elsewhere") in failure.message
    finally:
        await engine.close()


async def test_the_python_api_chooses_ray(local_ray: RayRun) -> None:
    from lean_batchd import api

    report = await api.check(
        [str(DEMO)], simulate=True, executor=api.ExecutorChoice("ray", "auto", local_ray.namespace)
    )
    assert isinstance(report, CheckReport)
    assert report.counts()["ok"] == len(report.outcomes) == len(select_files([str(DEMO)]))


def test_rays_error_reports_stay_off_stdout(local_ray: RayRun, capfd: pytest.CaptureFixture[str]) -> None:
    """Ray's driver prints "A worker died ..." on stdout: `check --json`'s document and the LSP
    wire. Once the executor has started, such reports go to stderr."""
    from ray._private import worker

    from lean_batchd.executors.ray_cluster import RayExecutor
    from lean_batchd.workers.pool import PoolConfig

    RayExecutor(ExecutorChoice("ray", "auto", local_ray.namespace), PoolConfig()).start()
    worker.print_to_stdstream({"lines": ["A worker died (test)"], "pid": "raylet", "is_err": False}, False)
    out, err = capfd.readouterr()
    assert "A worker died (test)" not in out
    assert "A worker died (test)" in err


async def test_prewarm_warms_the_session_on_the_cluster_not_here(local_ray: RayRun, tmp_path: Path) -> None:
    """The daemon's prewarm (a file opened) and `check`'s look-ahead start the session's actor
    and its import there; this process starts no worker."""
    paths = slow_project(tmp_path / "p", 1, 0.0)
    engine = Engine(engine_config(local_ray.namespace))
    try:
        key = await engine.prewarm(paths[0])
        assert not isinstance(key, Exception) and not hasattr(key, "kind")
        info: dict[str, object] = {}
        for _ in range(200):
            if ray_of(engine).actors:
                info = await describe(engine)
                if [w["state"] for w in info["workers"]] == ["warm"]:  # type: ignore[attr-defined]
                    break
            await asyncio.sleep(0.05)
        assert [w["state"] for w in info["workers"]] == ["warm"]  # type: ignore[attr-defined]
        assert info["batches"] == 0 and not engine.pool.workers
        got = await outcomes_with(engine, paths)
        assert [o.status for _, o in got if isinstance(o, FileOutcome)] == [FileStatus.OK]
        assert (await describe(engine))["pid"] == info["pid"]
    finally:
        await engine.close()


async def test_a_dead_daemons_actors_end_themselves_when_idle(local_ray: RayRun, tmp_path: Path) -> None:
    """Detached actors outlive their daemon; if none comes back, they end after twice the TTL."""
    import ray

    paths = slow_project(tmp_path / "p", 1, 0.0)
    crashed = Engine(engine_config(local_ray.namespace, detached=True, idle_ttl=0.5))
    await outcomes_with(crashed, paths)
    (held,) = ray_of(crashed).actors.values()
    reaper = ray_of(crashed).reaper_task()
    assert reaper is not None
    reaper.cancel()  # the daemon is gone: nobody reaps on its side
    local_ray.look()
    for _ in range(300):
        if held.name not in ray.util.list_named_actors():
            break
        await asyncio.sleep(0.05)
    assert held.name not in ray.util.list_named_actors()


def three_sessions(root: Path, files: int, seconds: float) -> list[str]:
    """`slow_project`'s files, and as many under each of two other headers: three session keys."""
    paths = slow_project(root, files, seconds)
    for n, header in enumerate(("import Work.Other", "import Work.Base\nimport Work.Other")):
        for k in range(files):
            path = root / f"Work/H{n}F{k}.lean"
            path.write_text(f"{header}\n\n-- sim:slow={seconds}\ntheorem h{n}f{k} : True := trivial\n")
            paths.append(str(path.resolve()))
    return paths


async def test_the_look_ahead_keeps_the_session_it_prewarmed(local_ray: RayRun, tmp_path: Path) -> None:
    """`check --jobs 1` (max workers 1): each session runs on the actor its look-ahead started,
    never on a second one made after the first was evicted."""
    paths = three_sessions(tmp_path / "p", 2, 1.0)
    engine = Engine(engine_config(local_ray.namespace, max_workers=1))
    try:
        target = EngineTarget(engine, build_check=False, cache=False)
        groups = await plan_sessions(target, paths, True)
        assert isinstance(groups, list) and len(groups) == 3
        report = await check_sessions(target, groups, 1, True)
        assert isinstance(report, CheckReport)
        assert {o.status for o in report.outcomes} == {FileStatus.OK}
        assert sorted(ray_of(engine)._generations.values()) == [0, 0, 0]  # one actor per session
    finally:
        await engine.close()


async def test_a_driver_never_kills_another_drivers_actor(local_ray: RayRun, tmp_path: Path) -> None:
    """A second driver that gives up waiting for the first's actor to be placed leaves it be."""
    import ray

    paths = slow_project(tmp_path / "p", 1, 0.0)
    blocker = ray.remote(Mute).options(num_cpus=0, resources={"lean_memory_mb": 3500}).remote()
    await blocker.ping.remote()
    owner = Engine(engine_config(local_ray.namespace, estimate_base_mb=1000))
    other = Engine(engine_config(local_ray.namespace, estimate_base_mb=1000, queue_timeout=1.0))
    try:
        waiting = asyncio.create_task(outcomes_with(owner, paths))
        for _ in range(400):
            if any(n.startswith(PREFIX) for n in ray.util.list_named_actors()):
                break
            await asyncio.sleep(0.05)
        got = await outcomes_with(other, paths)
        assert [o.status for _, o in got if isinstance(o, FileOutcome)] == [FileStatus.MEMORY]
        ray.kill(blocker)
        mine = await waiting
        assert [o.status for _, o in mine if isinstance(o, FileOutcome)] == [FileStatus.OK], mine
    finally:
        await other.close()
        await owner.close()


async def test_the_owner_does_not_close_an_actor_another_driver_is_using(local_ray: RayRun, tmp_path: Path) -> None:
    import ray

    paths = slow_project(tmp_path / "p", 3, 0.7)
    owner = Engine(engine_config(local_ray.namespace, idle_ttl=0.3))
    other = Engine(engine_config(local_ray.namespace))
    try:
        await outcomes_with(owner, paths[:1])
        (held,) = ray_of(owner).actors.values()
        got = await outcomes_with(other, paths)  # the owner's reaper finds its actor idle meanwhile
        assert [o.status for _, o in got if isinstance(o, FileOutcome)] == [FileStatus.OK] * 3, got
        assert ray_of(other).retried == 0
        for _ in range(200):  # idle at last: reaped
            if held.name not in ray.util.list_named_actors():
                break
            await asyncio.sleep(0.05)
        assert held.name not in ray.util.list_named_actors()
    finally:
        await other.close()
        await owner.close()


async def test_max_workers_holds_across_keys(local_ray: RayRun, tmp_path: Path) -> None:
    paths = three_sessions(tmp_path / "p", 1, 0.8)
    engine = Engine(engine_config(local_ray.namespace, max_workers=1))
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            executor = ray_of(engine)
            most = max(most, len(executor.actors) + len(executor._pending))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        got = await asyncio.gather(*(outcomes_with(engine, [p]) for p in paths[:2]))
        assert [o.status for g in got for _, o in g if isinstance(o, FileOutcome)] == [FileStatus.OK] * 2
        assert most == 1
        assert not ray_of(engine)._creating  # no lock kept for a key nobody waits on
    finally:
        watcher.cancel()
        await engine.close()


async def test_the_actors_hard_ceiling_is_its_reservation_plus_the_growth_limit(
    local_ray: RayRun, tmp_path: Path
) -> None:
    from lean_batchd.workers.limits import MemoryLimits

    paths = slow_project(tmp_path / "p", 1, 0.0)
    engine = Engine(engine_config(local_ray.namespace, memory=MemoryLimits(max_growth_mb=300)))
    try:
        await outcomes_with(engine, paths)
        info = await describe(engine)
        assert info["hardMb"] == pytest.approx(info["reservedMb"] + 300)
    finally:
        await engine.close()


START_SCRIPT = """
import asyncio, time
from lean_batchd.executors import ExecutorChoice
from lean_batchd.executors.ray_cluster import RayExecutor
from lean_batchd.workers.pool import PoolConfig

async def main():
    executor = RayExecutor(ExecutorChoice("ray", "local", "start-test"), PoolConfig(idle_ttl=None))
    ticks = []
    async def tick():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)
    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.1)
    began = time.monotonic()
    await asyncio.gather(executor._ready(), executor._ready())
    ended = time.monotonic()
    ticker.cancel()
    await executor.close()
    print(sum(1 for t in ticks if began < t < ended))

asyncio.run(main())
"""


def test_starting_ray_leaves_the_event_loop_running(tmp_path: Path) -> None:
    ray_module()
    done = subprocess.run(
        [sys.executable, "-c", START_SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= 3  # the loop ran while `ray.init` did
