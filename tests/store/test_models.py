"""The persistent model: a later run opens the stored model, re-reads only what changed, and has
exactly the model a fresh discovery builds."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.lake import LakeProject, ProjectOptions, WorkspaceOptions
from lean_batchd.plan import PlanConfig, plan_project
from lean_batchd.store.models import OpenedModel, open_project
from lean_batchd.store.plans import remembered_plan
from tests.conftest import write_tree
from tests.lake.test_incremental import LAKEFILES, initial_tree, module_path, snapshot

OPTIONS = ProjectOptions()


def opened(root: Path, options: ProjectOptions = OPTIONS) -> OpenedModel:
    found = open_project(root, options)
    assert isinstance(found, OpenedModel)
    return found


def fresh(root: Path, options: ProjectOptions = OPTIONS) -> LakeProject:
    found = open_project(root, options, remember=False)
    assert isinstance(found, OpenedModel)
    return found.project


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled as soon as they are written (tests write faster than timestamps
    tick, so every write here also changes the file's size)."""
    monkeypatch.setattr("lean_batchd.lake.inputs.RACY_WINDOW_NS", 0)


def test_a_second_run_reads_nothing_and_has_the_same_model(tmp_path: Path, settled: None) -> None:
    initial_tree(tmp_path)
    first = opened(tmp_path)
    assert not first.restored and first.saved and first.reread == len(first.project.graph) == 5
    second = opened(tmp_path)
    assert second.restored and second.reread == 0 and not second.reloaded and not second.saved
    assert snapshot(second.project) == snapshot(first.project) == snapshot(fresh(tmp_path))
    planned = remembered_plan(second, PlanConfig())  # planned now, stored with the model
    third = opened(tmp_path)
    assert third.derived[f"plan {PlanConfig()!r}"] == planned == remembered_plan(third, PlanConfig())


def test_an_unchanged_project_is_opened_without_a_rescan(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the last walk saw, checked by stat alone, stands for the walk (`lake.inputs`)."""
    initial_tree(tmp_path)
    first = opened(tmp_path)
    rescans: list[int] = []
    real = LakeProject.rescan
    monkeypatch.setattr(LakeProject, "rescan", lambda self: rescans.append(1) or real(self))
    second = opened(tmp_path)
    assert rescans == [] and second.restored and snapshot(second.project) == snapshot(first.project)
    time.sleep(0.02)
    (tmp_path / "A/E.lean").write_text("import A.C\n")
    third = opened(tmp_path)
    assert rescans == [1] and "A.E" in third.project.graph.modules


def test_only_changed_files_are_read_again(tmp_path: Path, settled: None) -> None:
    initial_tree(tmp_path)
    opened(tmp_path)
    (tmp_path / "A/C.lean").write_text("def c := 2\n-- longer\n")
    (tmp_path / "A/D.lean").write_text("import A.C\n")
    again = opened(tmp_path)
    assert again.restored and again.reread == 2 and not again.reloaded
    assert snapshot(again.project) == snapshot(fresh(tmp_path))
    assert again.project.graph.get("A.D") is not None


def test_a_file_written_within_a_second_of_being_read_is_read_again(tmp_path: Path) -> None:
    """git's racy-clean rule: a stat match says nothing about a file written as it was read."""
    initial_tree(tmp_path)
    opened(tmp_path)
    again = opened(tmp_path)
    assert again.restored and again.reread == 5  # all were written less than a second before the first read


def test_a_lakefile_or_toolchain_change_re_evaluates_what_depends_on_it(tmp_path: Path, settled: None) -> None:
    initial_tree(tmp_path)
    first = opened(tmp_path)
    (tmp_path / "lakefile.toml").write_text(LAKEFILES[1])
    again = opened(tmp_path)
    assert again.restored and again.reloaded and again.saved and again.reread == 0
    assert snapshot(again.project) == snapshot(fresh(tmp_path))
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n")
    third = opened(tmp_path)
    assert third.reloaded and third.project.workspace.toolchain.version == "4.24.0"
    assert third.project.graph.core_salt != first.project.graph.core_salt  # core imports' closure digests move
    assert snapshot(third.project) == snapshot(fresh(tmp_path))


def test_lean_answering_another_version_re_evaluates_the_toolchain(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An elan channel such as `stable` moves with no file changing."""
    options = ProjectOptions(workspace=WorkspaceOptions(query_lean_version=True))
    initial_tree(tmp_path)
    monkeypatch.setattr("lean_batchd.lake.workspace.lean_version", lambda cwd: "Lean (version 4.24.0)")
    monkeypatch.setattr("lean_batchd.store.models.lean_version", lambda cwd: "Lean (version 4.24.0)")
    opened(tmp_path, options)
    assert not opened(tmp_path, options).reloaded
    monkeypatch.setattr("lean_batchd.lake.workspace.lean_version", lambda cwd: "Lean (version 4.25.0)")
    monkeypatch.setattr("lean_batchd.store.models.lean_version", lambda cwd: "Lean (version 4.25.0)")
    again = opened(tmp_path, options)
    assert again.reloaded and again.project.workspace.toolchain.lean_version == "Lean (version 4.25.0)"


def test_a_model_stored_by_other_code_or_options_is_not_read(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    initial_tree(tmp_path)
    opened(tmp_path)
    assert not opened(tmp_path, ProjectOptions(only_roots=("A",))).restored
    monkeypatch.setattr("lean_batchd.store.models.code_identity", lambda: "another build of lean-batchd")
    assert not opened(tmp_path).restored


NAMES = ["A", "A.B", "A.C", "Lib2", "Lib2.E", "Dep.Y"]
_op = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=2)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("lakefile"), st.integers(0, len(LAKEFILES) - 1)),
    st.tuples(st.just("toolchain"), st.sampled_from(["v4.22.0", "v4.23.0", "nightly-2025-01-01"])),
)


def _apply(root: Path, op: tuple[Any, ...], state: dict[str, Any]) -> None:
    """One change, a file-system timestamp tick after the last run looked (with the racy window
    off, a folder changed in the tick it was listed in would look unchanged: the window exists
    for exactly that)."""
    time.sleep(0.02)
    src = "src" if state["lakefile"] == 2 else "."
    state["step"] += 1
    if op[0] == "write":  # a size no earlier write had, so a write is always a new stat identity
        path = module_path(root, op[1], src)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"import {n}\n" for n in op[2]) + "-- " + "x" * state["step"] + "\n")
    elif op[0] == "delete":
        module_path(root, op[1], src).unlink(missing_ok=True)
    elif op[0] == "rename":
        old, new = module_path(root, op[1], src), module_path(root, op[2], src)
        if old.exists() and old != new:
            new.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, new)
    elif op[0] == "lakefile":
        state["lakefile"] = op[1]
        (root / "lakefile.toml").write_text(LAKEFILES[op[1]])
    else:
        (root / "lean-toolchain").write_text(f"leanprover/lean4:{op[1]}\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(LAKEFILES) - 1), st.lists(_op, min_size=1, max_size=6))
def test_each_run_opens_the_model_a_fresh_discovery_builds(lakefile: int, ops: list[tuple[Any, ...]]) -> None:
    """Runs between random edits (module headers and bodies, files of a dependency, renames,
    deletions, lakefiles, toolchains): every run's model equals a fresh discovery, its plan
    (stored with the model when nothing changed) a fresh plan, and a run re-reads only files
    written since the stored model was written (a run that re-reads a few files does not
    rewrite the whole model)."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr("lean_batchd.lake.inputs.RACY_WINDOW_NS", 0)
        root = Path(tmp).resolve()
        initial_tree(root, lakefile)
        write_tree(root, {"lean-toolchain": "leanprover/lean4:v4.22.0\n"})
        first = opened(root)
        state = {"lakefile": lakefile, "step": 0}
        stored = _paths(first.project)
        written: set[str] = set()
        for op in ops:
            src = "src" if state["lakefile"] == 2 else "."
            if op[0] in ("write", "rename"):
                written.add(str(module_path(root, op[-2] if op[0] == "rename" else op[1], src)))
            _apply(root, op, state)
            run = opened(root)
            assert run.restored
            assert snapshot(run.project) == snapshot(fresh(root)), op
            assert remembered_plan(run, PlanConfig()) == plan_project(fresh(root), PlanConfig()), op
            assert run.reread <= len(written | (_paths(run.project) - stored)), (op, run.reread)
            if run.saved:
                written.clear()
                stored = _paths(run.project)


def _paths(project: LakeProject) -> set[str]:
    """Every file the model has read (modules, and files libraries claim that it does not hold)."""
    return set(project.cache.paths())


def test_a_daemon_restart_reads_only_what_changed_while_it_ran(tmp_path: Path, settled: None) -> None:
    """The engine opens the stored model and its plan, and stores both again when it closes."""
    import asyncio

    from lean_batchd.engine import Engine, EngineConfig, EngineError
    from lean_batchd.plan import plan_project

    initial_tree(tmp_path)
    config = EngineConfig(worker_command=("true",), simulated=True, watch=False, verify_interval=None)

    plans: list[bool] = []

    async def session(edit: bool) -> None:
        engine = Engine(config)
        try:
            managed = await engine.project_for(tmp_path)
            assert not isinstance(managed, EngineError)
            plans.append(managed.restored)
            assert managed.snapshot.plan == plan_project(managed.project, managed.plan_config)
            if edit:
                (tmp_path / "A/C.lean").write_text("def c := 2\n-- edited while the daemon ran\n")
                await engine.apply_paths(tmp_path, [str(tmp_path / "A/C.lean")])
        finally:
            await engine.close()

    asyncio.run(session(edit=False))
    asyncio.run(session(edit=True))
    asyncio.run(session(edit=False))
    assert plans == [False, True, True]  # planned once; then the stored plan (kept current by the edit)
    options = ProjectOptions(workspace=WorkspaceOptions(query_lean_version=False))
    restarted = opened(tmp_path, options)
    assert restarted.restored and restarted.reread == 0
    assert snapshot(restarted.project) == snapshot(fresh(tmp_path, options))


def test_values_pickled_as_constructor_calls_keep_every_field() -> None:
    """A field added to one of these classes must be added to its `__reduce__` too."""
    import dataclasses
    import pickle

    from lean_batchd.lake.graph import Module, Resolution
    from lean_batchd.lake.header import Header, Import, Position
    from lean_batchd.lake.layout import Claim
    from lean_batchd.lake.source import SourceFile
    from lean_batchd.plan.planner import Batch
    from lean_batchd.plan.work import ModuleWork

    for cls in (Resolution, Header, Import, Position, Claim, SourceFile, Batch, ModuleWork, Module):
        init_fields = [f.name for f in dataclasses.fields(cls) if f.init]
        marker = object.__new__(cls)
        for f in init_fields:
            object.__setattr__(marker, f, f"value of {f}")
        _, args = marker.__reduce__()  # type: ignore[misc]
        assert list(args) == [f"value of {f}" for f in init_fields], cls
    project = fresh(Path(__file__).resolve().parents[2] / "examples" / "demo")
    assert snapshot(pickle.loads(pickle.dumps(project))) == snapshot(project)
    keys = [b.key for b in plan_project(project, PlanConfig()).batches]
    for key, back in zip(keys, pickle.loads(pickle.dumps(keys)), strict=True):
        assert [getattr(back, f.name) for f in dataclasses.fields(key)] == [
            getattr(key, f.name) for f in dataclasses.fields(key)
        ]  # digests included, though not recomputed
