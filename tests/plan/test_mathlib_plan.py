"""Planning Mathlib: exact header batches and covers on the real import graph."""

from __future__ import annotations

from lean_batchd.lake import LakeProject
from lean_batchd.plan import PlanConfig, Profile, Strategy, plan_project
from lean_batchd.testing.mathlib_tree import GeneratedTree, mathlib_specs


def test_exact_header_batches_equal_distinct_ordered_headers(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    """One session per header as Lean reads it: imports in order, a repeated import dropped."""
    _, project = mathlib
    specs = mathlib_specs()
    distinct = {
        (spec.is_module, spec.prelude, tuple(dict.fromkeys((m, frozenset(mods.split())) for m, mods in spec.imports)))
        for spec in specs.values()
    }
    p = plan_project(project, PlanConfig(library="Mathlib"))
    assert p.stats.modules == 8303
    assert p.stats.batches == len(distinct) == 7919  # 7,904 if the order were ignored


def test_cover_respects_caps_and_beats_naive(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    _, project = mathlib
    for cap in (1000, 2000, 4000):
        p = plan_project(project, PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER, max_closure=cap))
        assert p.stats.modules == 8303
        over = [b for b in p.batches if b.closure_size > cap]
        assert all(len(b.modules) == 1 for b in over)
        assert len(over) == len(p.diagnostics)
        assert p.stats.imported_modules_total < p.stats.naive_imported_modules_total
        for b in p.batches:
            if b.closure_size <= cap:
                assert b.closure_size == len(project.graph.closure(i.module for i in b.key.imports))
    p = plan_project(project, PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER, max_closure=4000))
    assert p.stats.imported_modules_total < p.stats.naive_imported_modules_total / 50
