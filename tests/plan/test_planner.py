"""The planner: keys, exact and cover strategies, fingerprints, diffs."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_batchd.lake import Code, LakeProject, discover
from lean_batchd.lake.header import Import
from lean_batchd.plan import (
    ModuleWork,
    PlanConfig,
    PlanContext,
    Profile,
    RestartPolicy,
    Strategy,
    diff_plans,
    header_imports,
    plan,
    plan_project,
)
from lean_batchd.plan.closures import ClosureIndex, Weights
from tests.conftest import DEMO


class Graph:
    """A pure import graph for property tests: edges plus a version per module."""

    def __init__(self, edges: dict[str, tuple[str, ...]], versions: dict[str, int] | None = None) -> None:
        self._edges = edges
        self.versions = versions or {}

    @property
    def modules(self) -> Mapping[str, object]:
        return self._edges

    def edges(self, name: str) -> tuple[str, ...]:
        return self._edges.get(name, ())

    def closure(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            m = stack.pop()
            if m not in seen:
                seen.add(m)
                stack.extend(self._edges.get(m, ()))
        return seen

    def closure_digest(self, name: str) -> str:
        parts = sorted(f"{m}:{self.versions.get(m, 0)}" for m in self.closure(name))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


def context(graph: Graph, libraries: tuple[str, ...] = ("L",)) -> PlanContext:
    return PlanContext("/p", "p", "leanprover/lean4:v4.24.0", libraries, graph)


def items(graph: Graph, library: str = "L") -> list[ModuleWork]:
    return [
        ModuleWork(m, f"{m}.lean", ".", header_imports([Import(e) for e in graph.edges(m)]), library=library)
        for m in sorted(graph.modules)
    ]


@st.composite
def dags(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 14))
    names = [f"M{i}" for i in range(n)]
    edges = {}
    for i, name in enumerate(names):
        edges[name] = tuple(sorted(set(draw(st.lists(st.sampled_from(names[:i]), max_size=3)) if i else [])))
    return Graph(edges)


def by_module(p) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[str]] = {}
    for b in p.batches:
        for m in b.names():
            out.setdefault(m, []).append(b.id)
    return out


@settings(max_examples=150)
@given(dags(), st.sampled_from(list(Profile)), st.sampled_from([None, 1, 2, 3, 5, 8]))
def test_every_module_lands_in_exactly_one_batch(graph: Graph, profile: Profile, cap: int | None) -> None:
    for strategy in Strategy:
        config = PlanConfig(profile=profile, strategy=strategy, max_closure=cap)
        p = plan(items(graph), context(graph), config)
        placed = by_module(p)
        assert set(placed) == set(graph.modules) and all(len(v) == 1 for v in placed.values())
        assert p.stats.modules == len(graph.modules) and p.stats.batches == len(p.batches)


@settings(max_examples=150)
@given(dags(), st.sampled_from(list(Profile)))
def test_exact_batches_share_one_key(graph: Graph, profile: Profile) -> None:
    p = plan(items(graph), context(graph), PlanConfig(profile=profile))
    for b in p.batches:
        for w in b.modules:
            expected = w.imports if profile is Profile.HEADER else (Import(w.module),)
            assert b.key.imports == expected
    assert len({b.key for b in p.batches}) == len(p.batches)


@settings(max_examples=150)
@given(dags(), st.sampled_from([None, 1, 2, 3, 5, 8]))
def test_cover_sessions_hold_their_modules_within_the_cap(graph: Graph, cap: int | None) -> None:
    p = plan(items(graph), context(graph), PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER, max_closure=cap))
    alone = {d.path.removesuffix(".lean") for d in p.diagnostics if d.code is Code.COVER_CAP_EXCEEDED}
    for b in p.batches:
        loaded: set[str] = set()
        for imp in b.key.imports:
            loaded |= graph.closure(imp.module)
        assert set(b.names()) <= loaded and b.closure_size == len(loaded)
        if cap is not None and b.closure_size > cap:
            assert b.names() == (b.key.imports[0].module,) and b.names()[0] in alone
    assert p.stats.imported_modules_total <= p.stats.naive_imported_modules_total


@settings(max_examples=100)
@given(dags(), st.sampled_from(list(Profile)), st.sampled_from(list(Strategy)), st.randoms())
def test_output_is_deterministic_and_order_free(
    graph: Graph, profile: Profile, strategy: Strategy, rnd: random.Random
) -> None:
    config = PlanConfig(profile=profile, strategy=strategy, max_closure=4)
    work = items(graph)
    first = plan(work, context(graph), config)
    shuffled = list(work)
    rnd.shuffle(shuffled)
    again = plan(shuffled, context(graph), config)
    assert first == again


def test_import_order_separates_keys_and_a_repeated_import_does_not() -> None:
    """Lean imports in header order (instance and simp-lemma ties follow it), so order is part
    of the key; importing a module twice adds nothing, so a repeat is dropped."""
    graph = Graph({"A": (), "B": (), "X": ("A", "B"), "Y": ("B", "A"), "Z": ("A", "B")})
    work = [
        ModuleWork("X", "X.lean", ".", header_imports([Import("A"), Import("B")]), library="L"),
        ModuleWork("Y", "Y.lean", ".", header_imports([Import("B"), Import("A"), Import("B")]), library="L"),
        ModuleWork("Z", "Z.lean", ".", header_imports([Import("A", offset=3), Import("B"), Import("A")]), library="L"),
    ]
    p = plan(work, context(graph))
    assert sorted(b.names() for b in p.batches) == [("X", "Z"), ("Y",)]
    y = next(b for b in p.batches if b.names() == ("Y",))
    assert y.key.header_text() == "import B\nimport A\n"


def test_lake_options_are_part_of_the_key_by_value() -> None:
    graph = Graph({"A": (), "X": ("A",), "Y": ("A",), "Z": ("A",)})
    strict = (("autoImplicit", False), ("maxSynthPendingDepth", 3))
    work = [
        ModuleWork("X", "X.lean", ".", (Import("A"),), library="L", options=strict),
        ModuleWork("Y", "Y.lean", ".", (Import("A"),), library="L", options=tuple(list(strict))),
        ModuleWork("Z", "Z.lean", ".", (Import("A"),), library="L"),
    ]
    shared = context(graph)  # its key memo lives across plans
    p = plan(work, shared)
    assert sorted(b.names() for b in p.batches) == [("X", "Y"), ("Z",)]
    with_options = next(b for b in p.batches if b.names() == ("X", "Y"))
    without = next(b for b in p.batches if b.names() == ("Z",))
    assert with_options.key.options == strict and with_options.capability()["options"] == dict(strict)
    assert with_options.key.environment()["options"] == [["autoImplicit", False], ["maxSynthPendingDepth", 3]]
    assert with_options.id != without.id  # the id people see changes with the options
    as_nat = plan([replace(work[0], options=(("autoImplicit", 0), ("maxSynthPendingDepth", 3)))], shared)
    assert as_nat.batches[0].key != with_options.key  # a Nat 0 is not the Bool false


def test_flags_and_keywords_separate_keys() -> None:
    graph = Graph({"A": (), "X": ("A",), "Y": ("A",), "Z": ("A",)})
    work = [
        ModuleWork("X", "X.lean", ".", (Import("A"),), library="L"),
        ModuleWork("Y", "Y.lean", ".", (Import("A", public=True),), is_module=True, library="L"),
        ModuleWork("Z", "Z.lean", ".", (Import("A"),), is_module=True, library="L"),
    ]
    assert len(plan(work, context(graph)).batches) == 3


def test_restart_policy_content_separates_keys() -> None:
    graph = Graph({"A": ()})
    work = items(graph)
    a = plan(work, context(graph), PlanConfig(restart_policy=RestartPolicy(max_requests=10)))
    b = plan(work, context(graph), PlanConfig(restart_policy=RestartPolicy(max_requests=11)))
    c = plan(work, context(graph), PlanConfig(restart_policy=RestartPolicy(max_requests=10)))
    assert a.batches[0].key != b.batches[0].key and a.batches[0].key == c.batches[0].key
    assert a.batches[0].key.digest == c.batches[0].key.digest and len(a.batches[0].key.digest) == 16


@settings(max_examples=100)
@given(dags(), st.sampled_from(list(Profile)), st.data())
def test_fingerprint_changes_exactly_when_a_members_closure_digest_does(
    graph: Graph, profile: Profile, data: st.DataObject
) -> None:
    config = PlanConfig(profile=profile)
    before = plan(items(graph), context(graph), config)
    edited = data.draw(st.sampled_from(sorted(graph.modules)))
    changed_graph = Graph(graph._edges, {edited: 1})
    after = plan(items(changed_graph), context(changed_graph), config)
    for old, new in zip(before.batches, after.batches, strict=True):
        assert old.id == new.id
        moved = any(graph.closure_digest(m) != changed_graph.closure_digest(m) for m in old.names())
        assert (old.fingerprint != new.fingerprint) == moved
    d = diff_plans(before, after)
    for change in d.changed:
        assert all(edited in graph.closure(m) for m in change.changed_modules)


@settings(max_examples=100)
@given(dags(), st.sampled_from(list(Profile)), st.sampled_from(list(Strategy)))
def test_diff_with_itself_is_empty(graph: Graph, profile: Profile, strategy: Strategy) -> None:
    p = plan(items(graph), context(graph), PlanConfig(profile=profile, strategy=strategy, max_closure=3))
    d = diff_plans(p, p)
    assert d.empty and len(d.unchanged) == len(p.batches)


def test_diff_reports_moves_and_joins() -> None:
    graph = Graph({"A": (), "B": (), "X": ("A",), "Y": ("A",)})
    old = plan(items(graph), context(graph))
    graph2 = Graph({"A": (), "B": (), "X": ("A",), "Y": ("B",)})
    new = plan(items(graph2), context(graph2))
    d = diff_plans(old, new)
    (changed,) = d.changed
    assert changed.removed_modules == ("Y",) and changed.reasons() == ["Y left"]
    assert [b.names() for b in d.added] == [("Y",)] and d.removed == ()


def test_unresolved_target_and_invalid_names() -> None:
    graph = Graph({"A": ()})
    p = plan(items(graph), context(graph), PlanConfig(library="Nope"))
    assert p.batches == () and [d.code for d in p.diagnostics] == [Code.UNRESOLVED_TARGET]
    bad = [
        ModuleWork("not a name", "x.lean", ".", ()),
        ModuleWork("A", "A.lean", ".", ()),
        ModuleWork("A", "A2.lean", ".", ()),
    ]
    p = plan(bad, context(graph))
    assert [b.names() for b in p.batches] == [("A",)]
    assert [d.code for d in p.diagnostics] == [Code.INVALID_MODULE_NAME, Code.INVALID_MODULE_NAME]


def test_cover_with_header_profile_is_exact_with_a_diagnostic() -> None:
    graph = Graph({"A": (), "X": ("A",)})
    p = plan(items(graph), context(graph), PlanConfig(strategy=Strategy.COVER))
    assert p.strategy is Strategy.EXACT and [d.code for d in p.diagnostics] == [Code.PLAN_OPTION]


def test_explicit_work_outside_the_graph() -> None:
    graph = Graph({"A": ()})
    snippet = ModuleWork("Scratch", "/tmp/scratch.lean", "/tmp", (Import("A"),))
    p = plan([snippet], context(graph))
    (b,) = p.batches
    assert b.key.target is None and b.closure_size == 1
    p = plan([snippet], context(graph), PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER, max_closure=1))
    assert p.batches[0].names() == ("Scratch",)


def test_weighted_cover_uses_costs() -> None:
    graph = Graph({"A": (), "B": (), "X": ("A",), "Y": ("B",)})
    costs = {"A": 100, "B": 100, "X": 1, "Y": 1}
    config = PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER, module_costs=costs, cost_budget=150)
    p = plan(items(graph), context(graph), config)
    assert sorted(b.names() for b in p.batches) == [("A", "X"), ("B", "Y")]
    index = ClosureIndex(graph.modules, graph.edges)
    assert Weights(index, costs).of(index.closure["X"]) == 101


def test_demo_plans() -> None:
    project = discover(DEMO)
    assert isinstance(project, LakeProject)
    exact = plan_project(project)
    assert exact.stats.modules == 10 and exact.stats.batches == 9
    shared = exact.batch_of("Demo.Algebra")
    assert shared is not None and shared.names() == ("Demo.Algebra", "Demo.Order")
    assert shared.key.is_module and [i.render() for i in shared.key.imports] == [
        "public import Demo.Basic",
        "import Std.Data.HashMap",
    ]
    assert shared.capability()["header"] == "module\npublic import Demo.Basic\nimport Std.Data.HashMap\n"
    cover = plan_project(project, PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER))
    assert cover.stats.batches == 3 and cover.stats.imported_modules_total < cover.stats.naive_imported_modules_total
    assert plan_project(project, PlanConfig(library="DemoTest")).stats.modules == 3


def test_editing_a_module_changes_only_batches_that_depend_on_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    project = discover(root)
    assert isinstance(project, LakeProject)
    before = plan_project(project)
    path = root / "src/Demo/Order.lean"
    path.write_text(path.read_text() + "\n-- edited\n")
    project.update([path])
    after = plan_project(project)
    d = diff_plans(before, after)
    changed = {m for c in d.changed for m in c.changed_modules}
    assert changed == {"Demo", "Demo.Order", "Demo.Lemmas", "DemoTest.Order", "DemoTest.Lemmas", "Main"}
    assert d.added == () and d.removed == ()
    assert {b.names() for b in before.batches if b.id in d.unchanged} == {
        ("Demo.Basic",), ("Demo.Scratch",), ("DemoTest.Algebra",),
    }  # fmt: skip


@pytest.mark.parametrize("profile", list(Profile))
def test_keys_are_stable_across_runs(profile: Profile) -> None:
    project = discover(DEMO)
    assert isinstance(project, LakeProject)
    a = plan_project(project, PlanConfig(profile=profile))
    project2 = discover(DEMO)
    assert isinstance(project2, LakeProject)
    b = plan_project(project2, PlanConfig(profile=profile))
    assert [x.key.digest for x in a.batches] == [x.key.digest for x in b.batches]
    assert replace(a.batches[0].key) == a.batches[0].key


@settings(max_examples=200)
@given(dags(), st.data())
def test_refresh_equals_a_fresh_plan(graph: Graph, data: st.DataObject) -> None:
    """Rebuilding only the batches of changed modules gives exactly the fresh plan."""
    from lean_batchd.plan import refresh_plan

    old_context = context(graph)
    old = plan(items(graph), old_context)
    names = sorted(graph.modules)
    edges = dict(graph._edges)
    versions = dict(graph.versions)
    touched: set[str] = set()
    for name in data.draw(st.lists(st.sampled_from(names), max_size=4)):
        action = data.draw(st.sampled_from(["body", "header", "remove", "add"]))
        touched.add(name)
        if action == "body":
            versions[name] = versions.get(name, 0) + 1
        elif action == "header":
            earlier = names[: names.index(name)]
            edges[name] = tuple(
                sorted(set(data.draw(st.lists(st.sampled_from(earlier), max_size=3)) if earlier else []))
            )
        elif action == "remove" and name in edges:
            del edges[name]
        else:
            new = f"N{len(edges)}x"
            edges[new] = (name,) if name in edges else ()
            touched.add(new)
    new_graph = Graph(edges, versions)
    changed = set(touched)
    for name in list(touched):
        changed |= {m for m in new_graph.modules if name in new_graph.closure(m)}
    old_items = {w.module: w for w in items(graph)}
    updated = [w for w in items(new_graph) if old_items.get(w.module) != w]
    removed = set(graph.modules) - set(new_graph.modules)
    # As the daemon does: the same context, its closures rebuilt, its memos kept.
    kept = replace(old_context, graph=new_graph, index=None)
    refreshed = refresh_plan(old, updated, changed, kept, removed=removed)
    assert refreshed == plan(items(new_graph), context(new_graph))
    assert refreshed.stats == plan(items(new_graph), context(new_graph)).stats
