"""What the Ray tests share: engines on the SIMULATED REPL, files with slow bodies, outcomes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lean_batchd.engine import Engine, EngineConfig
from lean_batchd.engine.batches import check_batch
from lean_batchd.engine.outcome import FileOutcome
from lean_batchd.engine.values import EngineError
from lean_batchd.executors import ExecutorChoice
from lean_batchd.executors.ray_cluster import RayExecutor
from lean_batchd.testing import simulated_lean_command, simulated_repl_command
from lean_batchd.workers.pool import PoolConfig
from tests.conftest import write_tree


def engine_config(namespace: str | None, detached: bool = False, **pool: Any) -> EngineConfig:
    """A Ray executor in `namespace` (None: the local pool), on the SIMULATED REPL."""
    choice = ExecutorChoice() if namespace is None else ExecutorChoice("ray", "auto", namespace, detached)
    return EngineConfig(
        pool=PoolConfig(**pool),
        worker_command=simulated_repl_command(import_seconds=0.05),
        lean_command=simulated_lean_command(),
        simulated=True,
        watch=False,
        verify_interval=None,
        prewarm_on_open=False,
        store=False,
        executor=choice,
    )


def slow_project(root: Path, files: int, seconds: float, header: str = "import Work.Base") -> list[str]:
    """A project whose files share one header and each take `seconds` to elaborate."""
    tree = {
        "lakefile.toml": 'name = "work"\n\n[[lean_lib]]\nname = "Work"\nglobs = ["Work.+"]\n',
        "lean-toolchain": "leanprover/lean4:v4.24.0\n",
        "Work/Base.lean": "def base : Nat := 1\n",
        "Work/Other.lean": "def other : Nat := 2\n",
    }
    for k in range(files):
        tree[f"Work/F{k}.lean"] = f"{header}\n\n-- sim:slow={seconds}\ntheorem t{k} : base = base := rfl\n"
    write_tree(root, tree)
    return [str((root / f"Work/F{k}.lean").resolve()) for k in range(files)]


def ray_of(engine: Engine) -> RayExecutor:
    assert isinstance(engine.executor, RayExecutor)
    return engine.executor


async def describe(engine: Engine) -> dict[str, Any]:
    """The one session actor the engine holds, as it describes itself."""
    (held,) = ray_of(engine).actors.values()
    info: dict[str, Any] = await held.handle.describe.remote()
    return info


async def outcomes_with(
    engine: Engine, paths: list[str], on_outcome: Callable[[int], Any] | None = None
) -> list[tuple[str, FileOutcome | EngineError]]:
    """`check_batch` over `paths`; `on_outcome(n)` is awaited after the n-th outcome."""
    got = []
    async for item in check_batch(engine, tuple(paths), None, False, False):
        got.append(item)
        if on_outcome is not None:
            await on_outcome(len(got))
    return got


def kill_actor(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


async def new_actor_pid(engine: Engine, old_pid: int, timeout: float = 30.0) -> int:
    """The pid of the fresh actor the executor made after `old_pid`'s was lost."""
    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        held = list(ray_of(engine).actors.values())
        if held:
            try:
                pid = int((await held[0].handle.describe.remote())["pid"])
            except Exception:
                pid = old_pid
            if pid != old_pid:
                return pid
        await asyncio.sleep(0.05)
    raise AssertionError("no fresh actor appeared")
