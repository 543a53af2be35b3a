"""Real Ray on loopback: a single-node Ray for one test module, and a 2-node cluster inside a
network namespace the fixture creates, for another (one cluster per module: Ray's start costs
seconds). Without Ray, or without the rights to make a namespace, the tests skip with the
reason, unless LEAN_BATCHD_RAY_TESTS=required (as `.ci/run` sets), where they fail.

Ray is stopped with its own API (`ray.shutdown`, `Cluster.shutdown`), never `ray stop`, which
kills by name; afterwards no process of any process group Ray's or the workers' processes had
may be left (scaleout.md pitfall 9)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import psutil
import pytest

REQUIRED = os.environ.get("LEAN_BATCHD_RAY_TESTS") == "required"
MEMORY = "lean_memory_mb"
CLONE_NEWNET = 0x40000000
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(f"{what}, and LEAN_BATCHD_RAY_TESTS=required")
    pytest.skip(what)


def ray_module():  # type: ignore[no-untyped-def]
    try:
        import ray
    except ImportError:
        missing("Ray is not installed (pip install 'lean-batchd[ray]')")
    return ray


def our_processes() -> set[tuple[int, int]]:
    """(pid, process group) of every process under this test process."""
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            out.add((child.pid, os.getpgid(child.pid)))
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def left_over(seen: set[tuple[int, int]]) -> list[str]:
    """Live processes of the process groups seen (or of the pids seen), other than this one and
    its ancestors (which may share a group with what they started)."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    groups = {g for _, g in seen} - {os.getpgid(0)}
    pids = {p for p, _ in seen}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.pid in mine or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            group = os.getpgid(proc.pid)
        except ProcessLookupError:
            continue
        if group in groups or proc.pid in pids:
            found.append(f"{proc.pid} (group {group}): {' '.join(proc.info['cmdline'] or [])[:120]}")
    return found


def assert_none_left(seen: set[tuple[int, int]], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while (left := left_over(seen)) and time.monotonic() < end:
        time.sleep(0.2)
    assert not left, "left over after Ray stopped:\n" + "\n".join(left)


@dataclass
class RayRun:
    """A Ray this module shares; `seen` collects its processes for the leak check."""

    namespace: str
    seen: set[tuple[int, int]]
    cluster: object | None = None

    def look(self) -> None:
        self.seen |= our_processes()


@pytest.fixture(scope="module")
def local_ray() -> Generator[RayRun]:
    ray = ray_module()
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, namespace=namespace,
        object_store_memory=100 * 2**20, resources={MEMORY: 4000},
    )  # fmt: skip
    run = RayRun(namespace, our_processes())
    try:
        yield run
    finally:
        run.look()
        ray.shutdown()
    assert_none_left(run.seen)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def network_namespace() -> Iterator[str]:
    """A loopback-only network namespace that this thread (pytest's main thread, and so every
    process and thread it starts meanwhile) lives in: Ray binds what it calls 127.0.0.1 to the
    routable address (scaleout.md pitfall 2), and here there is none."""
    ip = shutil.which("ip")
    if ip is None:
        missing("`ip` (iproute2) is not installed: cannot make a network namespace")
    name = f"lbd-ray-{uuid.uuid4().hex[:8]}"
    made = subprocess.run([ip, "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        missing(f"cannot make a network namespace (`ip netns add`: {made.stderr.strip()}); it needs root")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            subprocess.run([ip, "link", "set", "lo", "up"], check=True, capture_output=True)
            yield name
        finally:
            _setns(home)
    finally:
        os.close(home)
        subprocess.run([ip, "netns", "delete", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def two_nodes() -> Generator[RayRun]:
    """Head: 1 CPU, 600 MB of lean memory; second node: 1 CPU, 1000 MB."""
    ray = ray_module()
    from ray.cluster_utils import Cluster

    with network_namespace():
        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "resources": {MEMORY: 600}, "include_dashboard": False,
                            "object_store_memory": 100 * 2**20},
        )  # fmt: skip
        run = RayRun(f"test-{uuid.uuid4().hex[:8]}", set(), cluster)
        try:
            cluster.add_node(num_cpus=1, resources={MEMORY: 1000}, object_store_memory=100 * 2**20)
            ray.init(address=cluster.address, namespace=run.namespace, log_to_driver=False)
            cluster.wait_for_nodes()
            assert cluster.address.startswith("127.0.0.1:"), cluster.address  # loopback: nothing else here
            run.look()
            yield run
        finally:
            run.look()
            ray.shutdown()
            cluster.shutdown()
        assert_none_left(run.seen)
