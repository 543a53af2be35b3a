"""The engine on real files with a real watchdog observer and the SIMULATED REPL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from lean_batchd.engine import Engine, EngineConfig, EngineError, ModuleInfo, RunResult
from lean_batchd.engine.managed import ManagedProject
from lean_batchd.engine.news import PlanNews
from lean_batchd.engine.outcome import FileOutcome
from lean_batchd.engine.snapshot import FileDiagnostics
from lean_batchd.lake import LakeProject, discover
from lean_batchd.plan import context_for, plan, work_from_model
from lean_batchd.testing import simulated_lean_command, simulated_repl_command
from lean_batchd.workers.pool import PoolConfig
from lean_batchd.workers.protocol import CommandReply
from tests.conftest import until
from tests.lake.test_incremental import snapshot
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

T = TypeVar("T")


def engine_run(body: Callable[[Engine], Awaitable[T]], **config: Any) -> T:
    async def main() -> T:
        engine = Engine(
            EngineConfig(
                worker_command=simulated_repl_command(import_seconds=0.05),
                lean_command=simulated_lean_command(),
                simulated=True,
                verify_interval=None,
                pool=PoolConfig(idle_ttl=None),
                **config,
            )
        )
        try:
            return await body(engine)
        finally:
            await engine.close()

    return asyncio.run(main())


def test_module_info_and_sharing(demo: Path) -> None:
    async def body(engine: Engine) -> None:
        info = await engine.module_info(str(demo / "src/Demo/Algebra.lean"))
        assert isinstance(info, ModuleInfo)
        assert (info.module, info.library, info.sharing, info.worker_state) == ("Demo.Algebra", "Demo", 2, "cold")
        assert info.batch_id == info.session_key and info.imports == (
            "public import Demo.Basic",
            "import Std.Data.HashMap",
        )
        assert info.header_end == (4, 23) and info.closure_size == 2
        other = await engine.module_info(str(demo / "src/Demo/Order.lean"))
        assert isinstance(other, ModuleInfo) and other.session_key == info.session_key
        outside = await engine.module_info(str(demo / "scratch.lean"))
        assert isinstance(outside, ModuleInfo) and outside.module is None and outside.library is None
        missing = await engine.module_info("/definitely/not/a/project/X.lean")
        assert isinstance(missing, EngineError) and missing.kind == "no-project"

    engine_run(body)


def test_prewarm_then_run_maps_messages_to_the_file(demo: Path) -> None:
    path = demo / "src/Demo/Lemmas.lean"
    path.write_text(path.read_text().replace("  Nat.le_add_right _ _", "  sorry"))

    async def body(engine: Engine) -> None:
        key = await engine.prewarm(str(path))
        assert not isinstance(key, EngineError)
        assert await until(lambda: any(str(w.state) == "warm" for w in engine.pool.workers))
        info = await engine.module_info(str(path))
        assert isinstance(info, ModuleInfo) and info.worker_state == "warm" and info.worker_memory_mb
        result = await engine.run(str(path))
        assert isinstance(result, RunResult) and result.failure is None and result.simulated
        (warning,) = [m for m in result.messages if m.severity == "warning"]  # once per declaration, at its name
        lines = path.read_text().split("\n")
        line = next(i for i, text in enumerate(lines) if "theorem triple_le_add" in text)
        column = lines[line].index("triple_le_add")
        assert (warning.range.start_line, warning.range.start_character) == (line, column)
        assert (warning.range.end_line, warning.range.end_character) == (line, column + len("triple_le_add"))
        assert isinstance(result.reply, CommandReply) and len(result.reply.sorries) == 1
        assert engine.pool.counters["spawns"] == 1 and engine.pool.counters["reuses"] == 1

    engine_run(body)


def test_a_file_edit_gives_a_plan_change_through_the_watcher(demo: Path) -> None:
    async def body(engine: Engine) -> None:
        diffs: list[tuple[float, PlanNews]] = []
        engine.plan_listeners.append(lambda root, news: diffs.append((time.monotonic(), news)))
        managed = await engine.project_for(str(demo))
        assert isinstance(managed, ManagedProject)
        await asyncio.sleep(0.3)
        wrote = time.monotonic()
        (demo / "src/Demo/Order.lean").write_text("import Demo.Basic\n\ntheorem x : True := trivial\n")
        assert await until(lambda: bool(diffs), timeout=3)
        at, diff = diffs[0]
        assert at - wrote < 1.0
        # Demo.Order's new header is Demo.Scratch's: it leaves its old batch and joins that one.
        assert diff.added == () and diff.removed == ()
        moves = [(c.added_modules, c.removed_modules) for c in diff.changed if c.added_modules or c.removed_modules]
        assert sorted(moves) == [((), ("Demo.Order",)), (("Demo.Order",), ())]
        # Its importers' batches changed too (their closure digests moved): counted, not listed.
        managed_now = managed.snapshot
        importers = {"Demo", "Demo.Lemmas", "DemoTest.Lemmas", "DemoTest.Order", "Main"}
        assert diff.dependents == {managed_now.batch_of[m] for m in importers} and diff.moved == 6
        assert json.loads(diff.encoded)["diff"]["dependents"] == {"batches": len(diff.dependents), "modules": 6}

    engine_run(body)


def test_an_unsaved_header_changes_the_files_session(demo: Path) -> None:
    path = str(demo / "src/Demo/Lemmas.lean")

    async def body(engine: Engine) -> None:
        before = await engine.module_info(path, "editor")
        assert isinstance(before, ModuleInfo) and not before.unsaved
        text = Path(path).read_text()
        await engine.set_buffer(path, text.replace("import Demo.Order\n", ""), "editor")
        after = await engine.module_info(path, "editor")
        assert isinstance(after, ModuleInfo) and after.unsaved and after.session_key != before.session_key
        assert after.imports == ("import Demo.Algebra",)
        await engine.set_buffer(path, text + "\n-- body edits keep the session\n", "editor")
        same = await engine.module_info(path, "editor")
        assert isinstance(same, ModuleInfo) and same.session_key == before.session_key
        await engine.set_buffer(path, None, "editor")
        closed = await engine.module_info(path, "editor")
        assert isinstance(closed, ModuleInfo) and not closed.unsaved

    engine_run(body)


def test_buffers_belong_to_their_owner_and_go_with_it(demo: Path) -> None:
    path = str(demo / "Main.lean")
    unsaved = "import Demo.Basic\n\ntheorem t : True := sorry\n"

    async def body(engine: Engine) -> None:
        disk = await engine.module_info(path)
        assert isinstance(disk, ModuleInfo)
        await engine.set_buffer(path, unsaved, "a")
        mine, theirs, nobodys = [await engine.module_info(path, o) for o in ("a", "b", None)]
        assert isinstance(mine, ModuleInfo) and mine.unsaved and mine.session_key != disk.session_key
        for other in (theirs, nobodys):
            assert isinstance(other, ModuleInfo) and not other.unsaved and other.session_key == disk.session_key
        ran = await engine.run(path, None, None, "a")
        assert isinstance(ran, RunResult) and "sorry" in ran.messages[0].text  # a's text
        checked = await engine.check(path, None, False)
        assert isinstance(checked, FileOutcome) and checked.messages == ()  # the file on disk
        assert engine.status()["projects"][0]["openBuffers"] == 1  # type: ignore[index]
        engine.drop_buffers("a")
        assert engine.status()["projects"][0]["openBuffers"] == 0  # type: ignore[index]
        gone = await engine.module_info(path, "a")
        assert isinstance(gone, ModuleInfo) and not gone.unsaved and gone.session_key == disk.session_key

    engine_run(body)


def test_a_path_through_a_symlink_is_the_same_module_and_session(demo: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(demo)

    async def body(engine: Engine) -> None:
        real = await engine.module_info(str(demo / "src/Demo/Algebra.lean"))
        linked = await engine.module_info(str(link / "src/Demo/Algebra.lean"))
        assert isinstance(real, ModuleInfo) and isinstance(linked, ModuleInfo)
        assert linked.module == "Demo.Algebra" and linked.session_key == real.session_key
        assert linked.path == real.path == str(demo / "src/Demo/Algebra.lean")
        await engine.set_buffer(str(link / "Main.lean"), "import Demo.Order\n", "a")
        opened = await engine.module_info(str(demo / "Main.lean"), "a")
        assert isinstance(opened, ModuleInfo) and opened.unsaved  # one buffer, whichever spelling
        assert list(engine.projects) == [demo]

    engine_run(body)


def test_an_olean_change_retires_the_warm_worker(demo: Path) -> None:
    path = str(demo / "src/Demo/Lemmas.lean")

    async def body(engine: Engine) -> None:
        await engine.prewarm(path)
        await engine.prewarm(str(demo / "DemoTest/Lemmas.lean"))
        assert await until(lambda: sum(str(w.state) == "warm" for w in engine.pool.workers) == 2)
        pids = {w.key.digest: w.process.pid for w in engine.pool.workers if w.process}
        olean = demo / ".lake/build/lib/lean/Helper/Core.olean"
        olean.parent.mkdir(parents=True)
        olean.write_bytes(b"olean")
        info = await engine.module_info(path)
        assert isinstance(info, ModuleInfo)
        assert await until(lambda: engine.pool.counters["retired_stale"] == 2, timeout=3)
        assert await until(lambda: sum(str(w.state) == "warm" for w in engine.pool.workers) == 2)
        assert not set(pids.values()) & {w.process.pid for w in engine.pool.workers if w.process}
        olean2 = demo / ".lake/build/lib/lean/DemoTest/Order.olean"
        olean2.parent.mkdir(parents=True)
        olean2.write_bytes(b"olean")
        await asyncio.sleep(0.5)
        assert engine.pool.counters["retired_stale"] == 2  # nothing loaded DemoTest.Order

    engine_run(body)


def test_diagnostics_are_published_and_cleared(demo: Path) -> None:
    async def body(engine: Engine) -> None:
        published: list[dict[str, FileDiagnostics]] = []
        engine.diagnostics_listeners.append(lambda root, changed: published.append(dict(changed)))
        await engine.project_for(str(demo))
        assert published and not any(f.diagnostics for f in published[-1].values())
        bad = demo / "src/Demo/Basic.lean"
        original = bad.read_text()
        bad.write_text("import Helper.Missing\n" + original)
        assert await until(lambda: str(bad) in published[-1], timeout=3)
        (d,) = published[-1][str(bad)].diagnostics
        assert d.code == "unresolved-import" and d.line == 1
        assert published[-1][str(bad)].lines == {1: "import Helper.Missing"}  # read in the update's thread
        bad.write_text(original)
        assert await until(lambda: published[-1].get(str(bad)) == FileDiagnostics((), {}), timeout=3)
        assert list(published[-1]) == [str(bad)]  # only the file whose diagnostics changed

    engine_run(body)


def test_watch_storm_ends_equal_to_a_fresh_discovery(demo: Path) -> None:
    rnd = random.Random(7)

    async def body(engine: Engine) -> None:
        managed = await engine.project_for(str(demo))
        assert isinstance(managed, ManagedProject)
        folders = [demo / "src/Demo/Storm", demo / "DemoTest/Storm"]
        names: list[Path] = []
        for i in range(3000):
            op = rnd.random()
            if op < 0.5 or not names:
                folder = rnd.choice(folders)
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"M{rnd.randrange(400)}.lean"
                target = rnd.choice(["Demo.Basic", "Demo.Algebra", "Helper.Core"])
                path.write_text(f"import {target}\n\ndef x{i} := {i}\n")
                names.append(path)
            elif op < 0.8:
                path = rnd.choice(names)
                if path.exists():
                    os.replace(path, path.with_name(f"R{rnd.randrange(400)}.lean"))
            else:
                path = rnd.choice(names)
                path.unlink(missing_ok=True)
        shutil.rmtree(folders[1], ignore_errors=True)
        await asyncio.sleep(2.0)
        await until(lambda: False, timeout=0.5)
        fresh = discover(demo)
        assert isinstance(fresh, LakeProject)
        settled = await engine.quiet(demo)
        assert not isinstance(settled, EngineError)
        async with managed.lock:
            assert snapshot(managed.project) == snapshot(fresh)
        fresh_plan = plan(work_from_model(fresh), context_for(fresh), managed.plan_config)
        assert settled.plan == fresh_plan  # kept current by rebuilding only changed batches
        assert settled.fingerprint == fresh.fingerprint()
        assert engine.changes_applied < 100  # coalesced, not one update per event

    engine_run(body, debounce=0.2)


def test_a_lakefile_edited_into_hostile_states_keeps_the_model_and_says_why(demo: Path) -> None:
    """Issue 13 item 7 in the daemon: deep nesting, a 5,000-digit integer or 50,000 nested
    parentheses give a lakefile diagnostic, and the project keeps serving its last good model."""

    async def body(engine: Engine) -> None:
        shown: dict[str, FileDiagnostics] = {}
        engine.diagnostics_listeners.append(lambda root, changed: shown.update(changed))
        managed = await engine.project_for(str(demo))
        assert isinstance(managed, ManagedProject)
        before = sorted(managed.project.graph.modules)
        toml = demo / "lakefile.toml"
        lean = demo / "lakefile.lean"
        good = toml.read_text()
        hostile = [
            (toml, good + "x = " + "[" * 5000 + "]" * 5000 + "\n"),
            (toml, good + "x = 1" + "0" * 5000 + "\n"),
            (
                lean,
                "import Lake\nopen Lake DSL\npackage demo\nlean_lib Demo where\n  srcDir := "
                + "(" * 50000
                + ")" * 50000,
            ),
        ]
        for path, text in hostile:
            path.write_text(text)
            await engine.apply_paths(str(demo), [str(path)])
            codes = {d.code for d in shown[str(path)].diagnostics}
            assert "lakefile-parse-error" in codes, (path.name, codes)
            info = await engine.module_info(str(demo / "src/Demo/Algebra.lean"))
            assert isinstance(info, ModuleInfo) and (info.module, info.library) == ("Demo.Algebra", "Demo")
            assert sorted(managed.project.graph.modules) == before
            plan_now = await engine.plan(str(demo))
            assert not isinstance(plan_now, EngineError) and plan_now.plan.batches
        lean.unlink()
        toml.write_text(good)
        await engine.apply_paths(str(demo), [str(lean), str(toml)])
        assert not any(f.diagnostics for f in shown.values())

    engine_run(body)


def test_an_engine_takes_over_a_model_opened_as_it_opens_them(demo: Path, monkeypatch: Any) -> None:
    """`check FOLDER` opened the project's model to list the folder's modules, then its engine
    opened it again (0.15-0.2 s of a cached Mathlib-folder check): it now takes that one over."""
    from lean_batchd.engine import projects
    from lean_batchd.lake import ProjectOptions, WorkspaceOptions
    from lean_batchd.store.models import OpenedModel, open_project

    opens: list[object] = []
    real = projects.open_project
    monkeypatch.setattr(projects, "open_project", lambda *a, **k: opens.append(a) or real(*a, **k))

    def opened(query_lean: bool) -> OpenedModel:
        found = open_project(demo, ProjectOptions(workspace=WorkspaceOptions(query_lean_version=query_lean)))
        assert isinstance(found, OpenedModel)
        return found

    for query_lean, taken in ((False, True), (True, False)):  # the engine simulates: it does not ask Lean
        handed = opened(query_lean)
        opens.clear()

        async def main(handed: OpenedModel) -> bool:
            engine = Engine(
                EngineConfig(
                    worker_command=simulated_repl_command(), simulated=True, watch=False, verify_interval=None
                ),
                {demo: handed},
            )
            try:
                info = await engine.module_info(str(demo / "src/Demo/Basic.lean"))
                assert isinstance(info, ModuleInfo) and info.module == "Demo.Basic"
                return engine.open_projects.projects[demo].project is handed.project
            finally:
                await engine.close()

        assert asyncio.run(main(handed)) is taken and len(opens) == (0 if taken else 1)
