"""Worker tests: session keys for the SIMULATED REPL, and a check that no process outlives a test."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from lean_batchd.lake.header import Import
from lean_batchd.plan.keys import Profile, SessionKey
from lean_batchd.testing import simulated_repl_command
from tests.conftest import DEMO, RUN_MARK

MARKERS = ("lean_batchd.testing.repl", "workers/guard.py")


def worker_processes() -> list[psutil.Process]:
    """Worker and guard processes started by this test run (marked through the inherited
    environment), so that another run or a daemon elsewhere on the machine does not count."""
    out = []
    for proc in psutil.process_iter(["cmdline", "pid"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.pid == os.getpid() or not any(m in cmdline for m in MARKERS):
            continue
        try:
            mine = proc.environ().get(RUN_MARK) == os.environ[RUN_MARK]
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            mine = False
        if mine:
            out.append(proc)
    return out


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture(autouse=True)
def process_table_stays_clean() -> Iterator[None]:
    """Every worker test must leave no REPL or guard process behind."""
    assert wait_until(lambda: not worker_processes()), "processes left over from an earlier test"
    yield
    leftover = worker_processes()
    assert wait_until(lambda: not worker_processes()), f"leaked: {[p.info['cmdline'] for p in leftover]}"


KeyFactory = Callable[..., SessionKey]


@pytest.fixture
def make_key() -> KeyFactory:
    def make(name: str = "A", root: Path = DEMO, **sim: float) -> SessionKey:
        return SessionKey(
            project_root=str(root),
            package="demo",
            target="Demo",
            source_root="src",
            is_module=False,
            prelude=False,
            imports=(Import(name),),
            profile=Profile.HEADER,
            toolchain="simulated",
            protocol="leanprover-community/repl",
            restart_policy="default",
            worker_command=simulated_repl_command(**sim),
        )

    return make


PYTHON = sys.executable
