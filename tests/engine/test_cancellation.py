"""A cancelled request never lets two threads touch a project's model at once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lean_batchd.engine import Engine
from lean_batchd.engine import elaborate as elaborate_module
from lean_batchd.engine.managed import ManagedProject
from lean_batchd.lake import LakeProject
from tests.engine.test_engine import engine_run
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def test_a_cancelled_check_keeps_the_model_locked_until_its_thread_ends(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = threading.Event()
    done = threading.Event()
    real = elaborate_module.stale_artifacts

    def slow_stale_artifacts(project: LakeProject, imports: list[str]) -> Any:
        reading.set()
        time.sleep(0.6)  # a slow disk, while the request that asked is cancelled
        done.set()
        return real(project, imports)

    monkeypatch.setattr(elaborate_module, "stale_artifacts", slow_stale_artifacts)

    async def body(engine: Engine) -> None:
        managed = await engine.project_for(str(demo))
        assert isinstance(managed, ManagedProject)
        check = asyncio.create_task(engine.check(str(demo / "Main.lean"), build_check=True))
        assert await asyncio.to_thread(reading.wait, 10)
        check.cancel()
        with pytest.raises(asyncio.CancelledError):
            await check
        async with managed.lock:
            assert done.is_set()  # the lock was held until the thread had finished with the model

    engine_run(body)
