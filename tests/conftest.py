"""Shared helpers: small Lake trees written into pytest's temporary folders."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from lean_batchd.lake import LakeProject, discover
from lean_batchd.testing.mathlib_tree import GeneratedTree, generate

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"

Tree = Callable[[dict[str, str]], Path]

settings.register_profile("lean-batchd", deadline=None)
settings.load_profile("lean-batchd")
"""Properties assert behaviour, not speed: Hypothesis's per-example deadline fails them on a
loaded machine (benchmarks/ measures speed)."""

RUN_MARK = "LEAN_BATCHD_TEST_RUN"
"""Set in this run's environment, so every process it starts inherits it: leak checks count
only this run's processes, not those of another run or a daemon elsewhere on the machine."""
os.environ.setdefault(RUN_MARK, f"{os.getpid()}-{time.time_ns()}")
os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="lean-batchd-tests-")
"""The per-user daemon's socket folder: private to this run, so tests never reach (or start) a
daemon that another run or the user's own editor shares."""
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="lean-batchd-tests-cache-")
"""Project stores: private to this run, so no test reads what another run (or the user) stored."""


@pytest.fixture(scope="session")
def mathlib(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedTree, LakeProject]:
    """The Mathlib-scale tree (small filler bodies) and its discovered model, shared by all tests."""
    tree = generate(tmp_path_factory.mktemp("mathlib") / "mathlib4", body_scale=0.05)
    project = discover(tree.root)
    assert isinstance(project, LakeProject)
    return tree, project


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Polls `condition` on the event loop until it holds or `timeout` passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A private copy of `examples/demo`, for tests that edit it."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    return root.resolve()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """`tree({"lakefile.toml": ..., "A.lean": ...})` writes files and returns the folder."""

    def make(files: dict[str, str]) -> Path:
        return write_tree(tmp_path / "proj", files)

    return make
