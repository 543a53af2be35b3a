"""Discovery on a tree generated from Mathlib's real import graph (8,303 modules) and Batteries."""

from __future__ import annotations

from pathlib import Path

from lean_batchd.lake import Code, LakeProject, ResolutionKind
from lean_batchd.testing.mathlib_tree import GeneratedTree


def test_finds_exactly_mathlibs_modules(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    tree, project = mathlib
    assert len(tree.mathlib) == 8303
    assert {m.name for m in project.local_modules()} == set(tree.mathlib)
    (lib,) = project.libraries()
    assert lib.selected == ("Mathlib",) and set(lib.built) == set(tree.mathlib)


def test_finds_exactly_the_import_edges(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    tree, project = mathlib
    for name, spec in tree.mathlib.items():
        module = project.graph.modules[name]
        got = [(i.module, i.public, i.meta, i.all) for i in module.imports]
        want = [
            (m, "public" in mods.split(), "meta" in mods.split(), "all" in mods.split()) for m, mods in spec.imports
        ]
        assert got == want, name
        assert module.header.is_module == spec.is_module


def test_no_cycles_and_every_mathlib_or_batteries_import_resolves(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    _, project = mathlib
    assert project.graph.cycles() == []
    for module in project.graph.modules.values():
        for imp, res in zip(module.imports, module.resolutions, strict=True):
            if imp.module.startswith(("Mathlib.", "Batteries")):
                assert res.kind in (ResolutionKind.LOCAL, ResolutionKind.PACKAGE), (module.name, imp.module)
    codes = {d.code for d in project.diagnostics()}
    assert Code.UNRESOLVED_IMPORT not in codes and Code.IMPORT_CYCLE not in codes


def test_batteries_is_a_dependency_package(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    tree, project = mathlib
    batteries = {n for n, m in project.graph.modules.items() if m.package == "batteries"}
    assert batteries and batteries <= set(tree.batteries)
    reached = project.graph.closure(n for n in tree.mathlib)
    assert batteries == {n for n in reached if n.startswith("Batteries")}
    assert all(project.graph.modules[n].source.shown.startswith(".lake/packages/batteries/") for n in batteries)


def test_closure_digests_and_an_incremental_header_edit(mathlib: tuple[GeneratedTree, LakeProject]) -> None:
    tree, project = mathlib
    root = project.root.root
    digests = {n: project.graph.closure_digest(n) for n in tree.mathlib}
    target = "Mathlib.Order.Basic"
    path = Path(root) / "Mathlib/Order/Basic.lean"
    text = path.read_text()
    path.write_text(text.replace("\nmodule\n", "\nmodule\n\npublic import Mathlib.Logic.Basic\n", 1))
    try:
        change = project.update([path])
        assert change.header_changed == (target,)
        dependents = project.graph.dependents(target)
        after = {n: project.graph.closure_digest(n) for n in tree.mathlib}
        changed = {n for n in tree.mathlib if after[n] != digests[n]}
        assert changed == dependents | {target}
    finally:
        path.write_text(text)
        project.update([path])
    assert {n: project.graph.closure_digest(n) for n in tree.mathlib} == digests
