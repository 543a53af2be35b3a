"""Overlapping libraries: each library's sets follow Lake's rules for that library alone;
ownership (the last-declared library that can build a module) decides resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.lake import Code, LakeProject, ResolutionKind, discover
from lean_batchd.lake.report import project_json
from tests.conftest import Tree
from tests.lake.lake_reference import Name, Reference, RefGlob, RefLib, render

TOML = 'name = "r"\n'


def project(path: Path) -> LakeProject:
    found = discover(path)
    assert isinstance(found, LakeProject)
    return found


def sets(p: LakeProject) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    return {lib.library.name: (lib.selected, lib.built, lib.orphans) for lib in p.libraries()}


def test_two_libraries_with_one_glob_both_select_and_build_it(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML
            + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n[[lean_lib]]\nname = "B"\nglobs = ["A.+"]\n',
            "A/X.lean": "import A.Y\n",
            "A/Y.lean": "",
        }
    )
    p = project(root)
    both = (("A.X", "A.Y"), ("A.X", "A.Y"), ())
    assert sets(p) == {"A": both, "B": both}
    # Imports, the module's library and its session follow the last-declared library.
    assert p.graph.modules["A.X"].library == "B"
    assert p.graph.modules["A.X"].resolutions[0].library == "B"
    assert p.built_by("A.X") == ("A", "B")
    shown = {m["name"]: m for m in project_json(p)["modules"]}
    assert shown["A.X"]["built_by"] == ["A", "B"]
    assert "planned once, in B's session" in shown["A.X"]["planning_note"]
    assert Code.DUPLICATE_MODULE not in {d.code for d in p.diagnostics()}


def test_a_later_root_inside_an_earlier_glob(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML
            + '[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n[[lean_lib]]\nname = "B"\nroots = ["A.Sub"]\n',
            "A.lean": "",
            "A/Sub.lean": "",
            "A/X.lean": "",
        }
    )
    p = project(root)
    assert sets(p) == {"A": (("A", "A.Sub", "A.X"), ("A", "A.Sub", "A.X"), ()), "B": (("A.Sub",), ("A.Sub",), ())}
    assert p.graph.modules["A.Sub"].library == "B" and p.graph.modules["A.X"].library == "A"


def test_a_module_reached_through_an_import_is_the_owners(tree: Tree) -> None:
    """A's closure follows A.Y (local to A), which resolves to B's module: B owns it, A builds it."""
    root = tree(
        {
            "lakefile.toml": TOML
            + '[[lean_lib]]\nname = "A"\nglobs = ["A"]\nroots = ["A"]\n[[lean_lib]]\nname = "B"\nglobs = ["A.Y"]\n',
            "A.lean": "import A.Y\n",
            "A/Y.lean": "",
            "A/Z.lean": "",
        }
    )
    p = project(root)
    assert sets(p) == {"A": (("A",), ("A", "A.Y"), ("A.Z",)), "B": (("A.Y",), ("A.Y",), ())}
    assert p.graph.modules["A.Y"].library == "B" and p.built_by("A.Y") == ("A", "B")


def test_a_submodule_glob_does_not_make_its_root_importable(tree: Tree) -> None:
    """`T.+` leaves `T` local (under the root) but not buildable, and Lake resolves imports only
    to buildable modules (`Package.findModule?`): `import T` is unresolved, `T` an orphan."""
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "T"\nglobs = ["T.+"]\n',
            "T.lean": "",
            "T/A.lean": "import T\n",
        }
    )
    p = project(root)
    assert sets(p) == {"T": (("T.A",), ("T.A",), ("T",))}
    (res,) = p.graph.modules["T.A"].resolutions
    assert res.kind is ResolutionKind.UNRESOLVED and "buildable" in (res.reason or "")
    assert p.graph.modules["T"].library == "T"


def test_an_executables_root_is_not_importable(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n[[lean_exe]]\nname = "tool"\nroot = "Main"\n',
            "A.lean": "import Main\n",
            "Main.lean": "",
        }
    )
    p = project(root)
    assert p.graph.modules["Main"].exe == "tool"
    (res,) = p.graph.modules["A"].resolutions
    assert res.kind is ResolutionKind.UNRESOLVED


def test_a_copy_in_another_source_folder_is_reported(tree: Tree) -> None:
    """Same module name in two libraries' source folders: imports reach the owner's file; the
    other library still builds its own copy (its glob selects it) and the clash is reported."""
    root = tree(
        {
            "lakefile.toml": TOML
            + '[[lean_lib]]\nname = "Old"\nsrcDir = "old"\nglobs = ["M.+"]\n'
            + '[[lean_lib]]\nname = "New"\nsrcDir = "new"\nglobs = ["M.+"]\n',
            "old/M/X.lean": "import M.Y\n",
            "old/M/Y.lean": "",
            "new/M/X.lean": "",
        }
    )
    p = project(root)
    assert p.graph.modules["M.X"].source.shown == "new/M/X.lean"
    assert sets(p)["Old"] == (("M.X", "M.Y"), ("M.X", "M.Y"), ())
    assert sets(p)["New"] == (("M.X",), ("M.X",), ())
    # M.Y too is New's (its glob matches), and New has no such file: Old builds its own copy,
    # but an import of M.Y would not resolve, so the model holds no M.Y.
    assert "M.Y" not in p.graph and p.built_by("M.X") == ("New",)
    clash = {d.path: d.message for d in p.diagnostics() if d.code is Code.DUPLICATE_MODULE}
    assert sorted(clash) == ["old/M/X.lean", "old/M/Y.lean"]
    assert "`lake build Old` builds this copy" in clash["old/M/X.lean"] and "does not exist" in clash["old/M/Y.lean"]


def test_a_dotted_component_reached_only_through_an_import(tree: Tree) -> None:
    """A folder named `0912.2382` is one name component, `«0912.2382»`; the library's glob
    selects only `Paper`, and the module comes in through its import alone."""
    manifest = {"version": "1.1.0", "packages": [{"type": "git", "name": "dep", "url": "u", "inherited": False}]}
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "Paper"\n',
            "lake-manifest.json": json.dumps(manifest),
            "Paper.lean": "import Paper.«0912.2382».Main\nimport Dep.«1.5».X\n",
            "Paper/0912.2382/Main.lean": "",
            ".lake/packages/dep/lakefile.toml": 'name = "dep"\n[[lean_lib]]\nname = "Dep"\n',
            ".lake/packages/dep/Dep/1.5/X.lean": "",
        }
    )
    p = project(root)
    a, b = p.graph.modules["Paper"].resolutions
    assert (a.kind, a.path) == (ResolutionKind.LOCAL, "Paper/0912.2382/Main.lean")
    assert (b.kind, b.path) == (ResolutionKind.PACKAGE, ".lake/packages/dep/Dep/1.5/X.lean")
    assert sets(p) == {"Paper": (("Paper",), ("Paper", "Paper.«0912.2382».Main"), ())}
    shown = project_json(p)
    assert [m["name"] for m in shown["modules"]] == ["Paper", "Paper.«0912.2382».Main"]
    assert [i["module"] for i in shown["modules"][0]["imports"]] == ["Paper.«0912.2382».Main", "Dep.«1.5».X"]
    assert [d for d in p.diagnostics() if d.severity == "error"] == []


def test_packages_are_searched_root_first_then_in_manifest_order(tree: Tree) -> None:
    """`Workspace.findModule?` tries the root, then the packages in require order (the order Lake
    writes the manifest in): the first package with a library that can build a module has it."""
    entry = {"type": "git", "url": "u", "inherited": False}
    manifest = {"version": "1.1.0", "packages": [{**entry, "name": "one"}, {**entry, "name": "two"}]}
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n',
            "lake-manifest.json": json.dumps(manifest),
            "A.lean": "import Shared\nimport A\n",
            ".lake/packages/one/lakefile.toml": 'name = "one"\n[[lean_lib]]\nname = "Shared"\n',
            ".lake/packages/one/Shared.lean": "",
            ".lake/packages/two/lakefile.toml": 'name = "two"\n[[lean_lib]]\nname = "Shared"\n[[lean_lib]]\nname = "A"\n',
            ".lake/packages/two/Shared.lean": "",
            ".lake/packages/two/A.lean": "",
        }
    )
    shared, own = project(root).graph.modules["A"].resolutions
    assert (shared.kind, shared.package) == (ResolutionKind.PACKAGE, "one")
    assert (own.kind, own.package) == (ResolutionKind.LOCAL, "r")


def test_the_file_lake_setup_file_picks_comes_first(tree: Tree) -> None:
    """Nested source folders make one file two modules; `modules_at` lists first the one
    `Package.findModuleBySrc?` picks (the last-declared library that can build it)."""
    root = tree(
        {
            "lakefile.toml": TOML
            + '[[lean_lib]]\nname = "Outer"\nroots = ["src"]\n[[lean_lib]]\nname = "Inner"\nsrcDir = "src"\nroots = ["Foo"]\n',
            "src/Foo.lean": "",
        }
    )
    p = project(root)
    assert [(m.name, m.library) for m in p.modules_at(root / "src/Foo.lean")] == [
        ("Foo", "Inner"),
        ("src.Foo", "Outer"),
    ]


# -- random projects against the reference -------------------------------------------

_PART = st.sampled_from(["A", "B", "src", "x.y"])
_NAME = st.lists(_PART, min_size=1, max_size=3).map(tuple)
_SRC = st.sampled_from([".", "src", "A"])
_GLOB = st.tuples(st.sampled_from(["one", "submodules", "andSubmodules"]), _NAME)
_LIB = st.tuples(_SRC, st.lists(_NAME, min_size=1, max_size=2), st.none() | st.lists(_GLOB, max_size=2))
_FILE = st.tuples(st.sampled_from(["", "src/", "A/", "src/A/"]), _NAME, st.lists(_NAME, max_size=2))

_SUFFIX = {"one": "", "submodules": ".+", "andSubmodules": ".*"}


def _lakefile(libs: list[RefLib]) -> str:
    out = ['name = "r"\n']
    for lib in libs:
        roots = ", ".join(json.dumps(render(r)) for r in lib.roots)
        globs = ", ".join(json.dumps(render(g.name) + _SUFFIX[g.kind]) for g in lib.globs)
        out.append(
            f'[[lean_lib]]\nname = "{lib.name}"\nsrcDir = "{lib.src_dir}"\nroots = [{roots}]\nglobs = [{globs}]\n'
        )
    return "".join(out)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(_LIB, min_size=1, max_size=3), st.lists(_FILE, min_size=1, max_size=8))
def test_random_projects_follow_lakes_rules(
    tmp_path_factory: pytest.TempPathFactory, raw_libs: list, raw_files: list
) -> None:  # type: ignore[type-arg]
    libs = []
    for i, (src, roots, globs) in enumerate(raw_libs):
        root_names = tuple(dict.fromkeys(roots))
        chosen = (
            tuple(RefGlob(k, n) for k, n in globs)
            if globs is not None
            else tuple(RefGlob("one", r) for r in root_names)
        )
        libs.append(RefLib(f"L{i}", src, root_names, chosen))
    files: dict[str, list[Name]] = {}
    for folder, name, imports in raw_files:
        path = folder + "/".join(name[:-1]) + ("/" if len(name) > 1 else "") + name[-1] + ".lean"
        files.setdefault(path, list(imports))
    ref = Reference(libs, files)
    root = tmp_path_factory.mktemp("random")
    (root / "lakefile.toml").write_text(_lakefile(libs))
    for path, imports in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("".join(f"import {render(i)}\n" for i in imports))
    p = project(root)
    got = {lib.library.name: (list(lib.selected), list(lib.built), list(lib.orphans)) for lib in p.libraries()}
    assert got == ref.answer()
    owned = {
        render(m): (lib, lib.file_of(m)) for lib0 in libs for m in ref.territory(lib0) if (lib := ref.find_module(m))
    }
    for name, (owner, path) in owned.items():
        module = p.graph.get(name)
        if path in files:
            assert module is not None and module.library == owner.name and module.source.shown == path, name
            assert list(p.built_by(name)) == ref.built_by(components_of(name, libs, files))
        for imp, res in zip(module.imports if module else (), module.resolutions if module else (), strict=True):
            target = ref.resolves(components_of(imp.module, libs, files))
            assert (res.kind is ResolutionKind.LOCAL) == (target is not None), (name, imp.module)
            assert res.path == target or target is None


def components_of(rendered: str, libs: list[RefLib], files: dict[str, list[Name]]) -> Name:
    """The reference's name for a rendered one (every name here comes from the generator)."""
    candidates = {render(n): n for n in _names(libs, files)}
    return candidates[rendered]


def _names(libs: list[RefLib], files: dict[str, list[Name]]) -> set[Name]:
    out: set[Name] = set()
    for imports in files.values():
        out.update(imports)
    for lib in libs:
        out.update(Reference(libs, files).modules_under(lib))
    return out
