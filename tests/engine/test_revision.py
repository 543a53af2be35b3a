"""Snapshots built change by change: the announced plan change is exactly the plans' diff, and
every snapshot, settled, equals one built afresh from a fresh discovery."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.engine.news import PlanNews, compose
from lean_batchd.engine.revision import announced, diagnosed, first_snapshot, settled
from lean_batchd.engine.snapshot import FileDiagnostics, ProjectSnapshot
from lean_batchd.lake.diagnostics import Diagnostic
from lean_batchd.plan.diff import PlanDiff, diff_plans
from lean_batchd.plan.planner import PlanConfig
from tests.lake.test_incremental import LAKEFILES, _op, apply, fresh, initial_tree

CONFIG = PlanConfig()


def assert_announces(news: PlanNews, diff: PlanDiff) -> None:
    """The news says what the plans' diff says: the same batches added and removed, and every
    changed batch either listed with the same change or counted among the dependents."""
    assert news.added == tuple((b.id, b.names()) for b in diff.added)
    assert news.removed == tuple((b.id, b.names()) for b in diff.removed)
    truth = {c.id: c for c in diff.changed}
    assert {c.id for c in news.changed} | news.dependents == truth.keys()
    assert not {c.id for c in news.changed} & news.dependents
    for c in news.changed:
        assert c == truth[c.id]
    for bid in news.dependents:  # changed only through imports: no module joined or left
        assert not (truth[bid].added_modules or truth[bid].removed_modules)
    assert news.unchanged == len(diff.unchanged)


def _of(diagnostics: Mapping[str, FileDiagnostics], path: str) -> tuple[Diagnostic, ...]:
    found = diagnostics.get(path)
    return () if found is None else found.diagnostics


def structure(snap: ProjectSnapshot) -> dict[str, Any]:
    return {
        "files": dict(snap.files),
        "works": dict(snap.works),
        "batch_of": dict(snap.batch_of),
        "members": dict(snap.members),
        "keys": dict(snap.keys),
        "fingerprint": snap.fingerprint,
        "modules": {n: (m.path, m.library, m.digest, m.resolutions) for n, m in snap.modules.items()},
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(LAKEFILES) - 1), st.lists(_op, min_size=1, max_size=8), st.data())
def test_each_announcement_is_the_plans_diff_and_settles_to_a_fresh_snapshot(
    lakefile: int, ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        initial_tree(root, lakefile)
        project = fresh(root)
        snap = first_snapshot(project, CONFIG)
        state = {"lakefile": lakefile}
        news: PlanNews | None = None
        for op in ops:
            before = first_snapshot(fresh(root), CONFIG)
            change = project.update(apply(root, op, state))
            if change.empty:
                continue
            step, snap = announced(project, snap, change)
            after = first_snapshot(fresh(root), CONFIG)
            assert structure(snap) == structure(after), op
            if not change.config_changed:
                assert_announces(step, diff_plans(before.plan, after.plan))
            assert step.generation == snap.generation and step.fingerprint == after.fingerprint.digest
            news = step if news is None else compose(news, step)
            if data.draw(st.booleans(), "settle now"):  # the plan catches up now, or several changes later
                snap = settled(snap)
                assert snap.plan == after.plan and snap.plan_generation == snap.generation
            shown = snap.diagnostics
            found, snap = diagnosed(project, snap)
            assert snap.diagnostics == after.diagnostics
            moved = {p for p in {*shown, *after.diagnostics} if _of(shown, p) != _of(after.diagnostics, p)}
            assert found.keys() == moved  # only files whose diagnostics changed are announced
        snap = settled(snap)
        assert snap.plan == first_snapshot(fresh(root), CONFIG).plan


def test_composed_news_covers_every_batch_that_changed() -> None:
    """A client that fell behind gets one news from where it was to the latest: every batch added,
    removed or changed on the way, net of those that came and went."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        initial_tree(root)
        project = fresh(root)
        snap = first_snapshot(project, CONFIG)
        start = snap.plan
        ops: list[tuple[Any, ...]] = [
            ("write", "A.C", "import Lib2.E\n", "def c := 2\n"),
            ("write", "Lib2.E", "", "def e := 1\n"),
            ("delete", "Lib2.E"),
            ("write", "A.B.D", "import A.C\n", ""),
        ]
        news: PlanNews | None = None
        state = {"lakefile": 0}
        for op in ops:
            step, snap = announced(project, snap, project.update(apply(root, op, state)))
            news = step if news is None else compose(news, step)
        assert news is not None and (news.since, news.generation) == (1, 5)
        end = first_snapshot(fresh(root), CONFIG).plan
        truth = diff_plans(start, end)
        assert [i for i, _ in news.added] == [b.id for b in truth.added]
        assert [i for i, _ in news.removed] == [b.id for b in truth.removed]
        assert {c.id for c in truth.changed} <= {c.id for c in news.changed} | news.dependents
