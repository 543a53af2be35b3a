"""The Ray executor on a real 2-node cluster inside a loopback network namespace (head: 600 MB
of `lean_memory_mb`, second node: 1000 MB): placement by memory, waiting and refusing with the
reason, status per node, and a node removed mid-batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lean_batchd.check_command import CheckOptions, differences, run_check, select_files
from lean_batchd.daemon_commands import cluster_lines
from lean_batchd.engine.checking import CheckReport
from lean_batchd.engine.engine import Engine
from lean_batchd.engine.outcome import FileOutcome, FileStatus
from lean_batchd.testing.workload import generate_workload
from tests.executors.conftest import RayRun
from tests.executors.helpers import engine_config, outcomes_with, ray_of, slow_project


def node_memory(engine: Engine) -> dict[str, float]:
    status: Any = engine.status()["executor"]
    return {n["nodeId"]: n["memoryMb"] for n in status["nodes"] if n["alive"]}


async def test_outcomes_on_two_nodes_equal_the_local_pools(two_nodes: RayRun, tmp_path: Path) -> None:
    work = generate_workload(tmp_path / "work", files=12, headers=4)
    files = select_files([str(work.files)])
    assert isinstance(files, list)
    options = CheckOptions(jobs=2, output="none", quiet=True, build_check=False, cache=False)
    local = await run_check(files, options, engine_config(None), None)
    remote = await run_check(files, options, engine_config(two_nodes.namespace), None)
    two_nodes.look()
    assert isinstance(local, CheckReport) and isinstance(remote, CheckReport)
    assert len(remote.outcomes) == len(files) and differences(local, remote) == []


async def test_sessions_land_where_their_memory_is_free(two_nodes: RayRun, tmp_path: Path) -> None:
    """800 MB fits only the 1000 MB node; a second 800 MB session waits there, then is refused
    with the reason; the status shows each node's memory and who lives where."""
    first = slow_project(tmp_path / "a", 2, 0.0)
    second = slow_project(tmp_path / "b", 1, 0.0, header="import Work.Other")
    engine = Engine(engine_config(two_nodes.namespace, estimate_base_mb=799, queue_timeout=3.0, max_workers=4))
    try:
        got = await outcomes_with(engine, first)
        assert all(isinstance(o, FileOutcome) and o.status is FileStatus.OK for _, o in got)
        memory = node_memory(engine)
        assert sorted(memory.values()) == [600.0, 1000.0]
        status: Any = engine.status()["executor"]
        (session,) = status["sessions"]
        assert memory[session["node"]] == 1000.0 and session["reservedMb"] == 800.0
        (big,) = [n for n in status["nodes"] if n["memoryMb"] == 1000.0]
        assert big["sessions"] == [session["key"]] and big["reservedMb"] == 800.0
        text = "\n".join(cluster_lines(status))
        assert (
            "2 nodes, 1 session," in text
            and f"800 of 1000 MB lean_memory_mb reserved; sessions {session['key'][:8]}" in text
        )
        waited = await outcomes_with(engine, second)
        (outcome,) = [o for _, o in waited]
        assert isinstance(outcome, FileOutcome) and outcome.status is FileStatus.MEMORY
        assert outcome.detail is not None and "waited 3 s for a node with 800 MB of lean_memory_mb" in outcome.detail
        two_nodes.look()
    finally:
        await engine.close()


async def test_a_node_removed_mid_batch_gives_one_outcome_per_file(two_nodes: RayRun, tmp_path: Path) -> None:
    """The session can live only on the 1000 MB node: removed, its unfinished files cannot be
    retried anywhere and are `node-lost`; the finished one keeps its outcome."""
    from ray.cluster_utils import Cluster

    cluster = two_nodes.cluster
    assert isinstance(cluster, Cluster)
    paths = slow_project(tmp_path / "p", 4, 1.0)
    engine = Engine(engine_config(two_nodes.namespace, estimate_base_mb=799, queue_timeout=3.0))
    try:

        async def after(n: int) -> None:
            if n == 1:
                two_nodes.look()
                (node,) = cluster.worker_nodes
                cluster.remove_node(node, allow_graceful=False)

        got = await outcomes_with(engine, paths, after)
        assert [p for p, _ in got] == paths
        statuses = [o.status for _, o in got if isinstance(o, FileOutcome)]
        assert statuses == [FileStatus.OK] + [FileStatus.NODE_LOST] * 3
        lost = got[-1][1]
        assert isinstance(lost, FileOutcome) and lost.detail is not None and "no fresh actor" in lost.detail
        assert ray_of(engine).lost == 1
    finally:
        await engine.close()
        cluster.add_node(num_cpus=1, resources={"lean_memory_mb": 1000}, object_store_memory=100 * 2**20)
