"""Readers never wait for writers: answers come from the last installed snapshot, say which one,
and say `pending` while an update (or the rescan after lost events) has not landed."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lean_batchd.engine import Engine, EngineError, ModuleInfo
from lean_batchd.engine.managed import ManagedProject
from lean_batchd.engine.snapshot import ProjectView
from lean_batchd.lake import LakeProject, discover
from lean_batchd.lake import files as lake_files
from lean_batchd.lake import source as lake_source
from tests.conftest import until
from tests.engine.test_engine import engine_run
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


class Gate:
    """Holds a model method in its thread until opened: an update that takes as long as we like."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        real: Callable[..., Any] = getattr(LakeProject, name)

        def held(project: LakeProject, *args: Any) -> Any:
            self.entered.set()
            assert self.open.wait(30)
            return real(project, *args)

        monkeypatch.setattr(LakeProject, name, held)

    async def wait_entered(self, timeout: float = 10) -> None:
        assert await asyncio.to_thread(self.entered.wait, timeout)


async def view(engine: Engine, path: Path) -> ProjectView:
    got = await engine.view(path)
    assert not isinstance(got, EngineError)
    return got


def test_a_query_during_an_update_answers_from_the_previous_snapshot_and_says_pending(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = demo / "src/Demo/Order.lean"
    gate = Gate(monkeypatch, "update")

    async def body(engine: Engine) -> None:
        before = await engine.module_info(str(order))
        assert isinstance(before, ModuleInfo) and not before.pending
        first = await view(engine, demo)
        order.write_text("import Demo.Basic\n\ntheorem x : True := trivial\n")
        updating = asyncio.create_task(engine.apply_paths(demo, [str(order)]))
        await gate.wait_entered()  # the update holds the model in its thread from now on
        during = await asyncio.wait_for(engine.module_info(str(order)), 5)
        assert isinstance(during, ModuleInfo)
        assert (during.generation, during.pending) == (before.generation, True)
        assert (during.session_key, during.imports) == (before.session_key, before.imports)
        seen = await view(engine, demo)
        assert seen.pending and seen.snapshot is first.snapshot
        gate.open.set()
        await updating
        after = await engine.module_info(str(order))
        assert isinstance(after, ModuleInfo) and after.generation == before.generation + 1
        assert after.imports == ("import Demo.Basic",) and after.session_key != before.session_key
        await engine.quiet(demo)
        settled = await view(engine, demo)
        assert not settled.pending and settled.snapshot.settled
        fresh = discover(demo)
        assert isinstance(fresh, LakeProject) and settled.snapshot.fingerprint == fresh.fingerprint()

    engine_run(body, watch=False)


def test_after_lost_events_the_rescan_runs_at_once_and_answers_say_pending_until_it_lands(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch, "rescan")
    lemmas = demo / "src/Demo/Lemmas.lean"

    async def body(engine: Engine) -> None:
        managed = await engine.project_for(demo)
        assert isinstance(managed, ManagedProject)
        before = await view(engine, demo)
        lemmas.write_text(lemmas.read_text() + "\ntheorem more : True := trivial\n")
        # inotify's queue overflowed: watchdog only logs it
        logging.getLogger("watchdog.observers.inotify_c").warning("Inotify event queue overflowed")
        await gate.wait_entered(timeout=3)  # before the 5 s debounce would have let anything through
        during = await view(engine, demo)
        assert during.pending and during.snapshot.fingerprint == before.snapshot.fingerprint
        gate.open.set()
        assert await until(lambda: managed.snapshot.generation > before.snapshot.generation, timeout=5)
        fresh = discover(demo)
        assert isinstance(fresh, LakeProject) and managed.snapshot.fingerprint == fresh.fingerprint()

    engine_run(body, debounce=5.0, max_delay=10.0)


@pytest.fixture
def loop_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Files read on the main thread (the event loop's, in these tests)."""
    found: list[str] = []
    real = lake_files.read_capped

    def reading(path: Any, limit: int) -> Any:
        if threading.current_thread() is threading.main_thread():
            found.append(str(path))
        return real(path, limit)

    monkeypatch.setattr(lake_files, "read_capped", reading)
    monkeypatch.setattr(lake_source, "read_capped", reading)
    yield found


def test_no_file_is_read_on_the_event_loop(demo: Path, loop_reads: list[str]) -> None:
    """Answers, runs, updates and their diagnostics read files in threads only."""
    outside = demo / "scratch.lean"
    basic = demo / "src/Demo/Basic.lean"

    async def body(engine: Engine) -> None:
        published: list[dict[str, Any]] = []
        engine.diagnostics_listeners.append(lambda root, changed: published.append(dict(changed)))
        await engine.project_for(demo)
        info = await engine.module_info(str(outside))
        assert isinstance(info, ModuleInfo) and info.module is None
        ran = await engine.run(str(demo / "src/Demo/Algebra.lean"))
        assert not isinstance(ran, EngineError)
        basic.write_text("import Helper.Missing\n" + basic.read_text())
        await engine.apply_paths(demo, [str(basic)])
        assert published[-1][str(basic)].lines == {1: "import Helper.Missing"}
        planned = await engine.plan(str(demo))
        assert not isinstance(planned, EngineError) and planned.generation == 2
        assert loop_reads == []

    engine_run(body)
