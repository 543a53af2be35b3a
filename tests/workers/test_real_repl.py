"""The pool against the real Lean REPL (`lake env repl`): runs only where a Lean toolchain is installed.

No machine this project is built on has Lean, so here every test skips, saying
what it looked for. With elan and the REPL installed (see the README), these
run the same pool paths the simulated tests cover, against real Lean.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lean_batchd.lake.header import Import
from lean_batchd.plan.keys import Profile, SessionKey
from lean_batchd.workers.failures import FailureKind, WorkerFailure
from lean_batchd.workers.locate import ReplFound, find_repl
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.protocol import CommandReply
from tests.conftest import DEMO

FOUND = find_repl(DEMO)
pytestmark = pytest.mark.skipif(
    not isinstance(FOUND, ReplFound),
    reason=f"needs a real Lean toolchain and REPL: {'' if isinstance(FOUND, ReplFound) else FOUND.message()}",
)


def key(*modules: str) -> SessionKey:
    assert isinstance(FOUND, ReplFound)
    return SessionKey(
        str(DEMO), "demo", None, ".", False, False, tuple(Import(m) for m in modules), Profile.HEADER,
        "real", "leanprover-community/repl", "default", FOUND.command,
    )  # fmt: skip


def test_real_import_is_reused_and_answers() -> None:
    async def main() -> None:
        pool = WorkerPool(PoolConfig(import_timeout=600))
        try:
            async with pool.lease(key("Init")) as lease:
                reply = await lease.run("#check Nat")
                assert isinstance(reply, CommandReply)
                assert any("Nat" in m.data for m in reply.messages)
                pid = lease.worker.process.pid if lease.worker.process else None
            async with pool.lease(key("Init")) as lease:
                assert lease.worker.process is not None and lease.worker.process.pid == pid
                w = pool.snapshot().workers[0]
                assert w.memory.private_kb < w.memory.rss_kb
        finally:
            await pool.close()

    asyncio.run(main())


def test_real_timeout_recovers() -> None:
    async def main() -> None:
        pool = WorkerPool(PoolConfig(import_timeout=600))
        try:
            async with pool.lease(key("Init")) as lease:
                failure = await lease.run("#eval (List.range 100000000).foldl (· + ·) 0", timeout=0.5)
                assert isinstance(failure, WorkerFailure) and failure.kind is FailureKind.TIMEOUT
            async with pool.lease(key("Init")) as lease:
                assert isinstance(await lease.run("#check Nat"), CommandReply)
        finally:
            await pool.close()

    asyncio.run(main())


def test_real_check_of_the_demo_after_lake_build(tmp_path: Path) -> None:
    """`lake build` the demo, then `lean-batchd check` it on real Lean: every file ok; a source
    touched after the build still checks (Lake rebuilds nothing), an edited one is refused with
    the build hint."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".lake"))
    build = subprocess.run(["lake", "build"], cwd=root, capture_output=True, text=True, timeout=1800, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "check", str(root), "--no-daemon", "--json"],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    basic = root / "src/Demo/Basic.lean"
    basic.touch()
    argv = [sys.executable, "-m", "lean_batchd", "check", str(root / "src/Demo/Algebra.lean"), "--no-daemon"]
    touched = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert touched.returncode == 0, touched.stdout + touched.stderr
    basic.write_text(basic.read_text() + "\ntheorem edited : True := trivial\n")
    stale = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert stale.returncode == 1 and "its imports are not built: lake build Demo.Basic" in stale.stdout
