"""Discovery of modules, libraries, packages and resolutions with Lake's rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lean_batchd.lake import Code, LakeProject, ProjectOptions, ResolutionKind, RootSearch, Severity, discover
from tests.conftest import DEMO, Tree

TOML = 'name = "p"\n'


def project(path: Path, **kw: object) -> LakeProject:
    found = discover(path, ProjectOptions(**kw))  # type: ignore[arg-type]
    assert isinstance(found, LakeProject), getattr(found, "diagnostics", found)
    return found


def codes(p: LakeProject) -> list[str]:
    return [str(d.code) for d in p.diagnostics()]


def lib(p: LakeProject, name: str):  # type: ignore[no-untyped-def]
    return next(x for x in p.libraries() if x.library.name == name)


# -- roots ------------------------------------------------------------------------


def test_root_from_any_path_inside(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n', "A/B/C.lean": "", "A.lean": ""})
    for start in (root, root / "A", root / "A" / "B" / "C.lean", root / "A" / "missing.lean"):
        assert project(start).root.root == root.resolve()


def test_lakefile_lean_wins_over_toml(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML, "lakefile.lean": "import Lake\nopen Lake DSL\npackage q\nlean_lib Q\n"})
    p = project(root)
    assert p.root.lakefile.name == "lakefile.lean" and p.name == "q"
    assert "both-lakefiles" in codes(p)


def test_lean_subfolder_layout(tree: Tree) -> None:
    root = tree({"lean/lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n', "lean/A.lean": "", "README": ""})
    assert project(root).root.root == (root / "lean").resolve()


def test_legacy_config_is_reported_not_guessed(tree: Tree) -> None:
    root = tree({"leanpkg.toml": "[package]\nname = 'old'\n", "src/A.lean": ""})
    found = discover(root)
    assert isinstance(found, RootSearch)
    assert [str(d.code) for d in found.diagnostics] == ["legacy-config", "missing-lake-root"]


def test_no_project(tmp_path: Path) -> None:
    found = discover(tmp_path)
    assert isinstance(found, RootSearch) and found.found is None
    assert found.diagnostics[-1].code is Code.MISSING_LAKE_ROOT and str(tmp_path) in found.diagnostics[-1].message


# -- the demo ---------------------------------------------------------------------


def test_demo_libraries_exe_and_packages() -> None:
    p = project(DEMO)
    demo, test = lib(p, "Demo"), lib(p, "DemoTest")
    assert demo.base == "src" and demo.selected == ("Demo",)
    assert demo.built == ("Demo", "Demo.Algebra", "Demo.Basic", "Demo.Lemmas", "Demo.Order")
    assert demo.orphans == ("Demo.Scratch",)
    assert test.selected == test.built == ("DemoTest.Algebra", "DemoTest.Lemmas", "DemoTest.Order")
    assert [m.name for m in p.local_modules()] == [
        "Demo", "Demo.Algebra", "Demo.Basic", "Demo.Lemmas", "Demo.Order", "Demo.Scratch",
        "DemoTest.Algebra", "DemoTest.Lemmas", "DemoTest.Order", "Main",
    ]  # fmt: skip
    main = p.graph.modules["Main"]
    assert main.exe == "demo" and main.library is None
    assert p.diagnostics() == []


def test_demo_resolutions() -> None:
    p = project(DEMO)
    basic = p.graph.modules["Demo.Basic"]
    (helper,) = basic.resolutions
    assert (helper.kind, helper.package, helper.library, helper.path) == (
        ResolutionKind.PACKAGE, "helper", "Helper", "vendor/helper/Helper/Core.lean",
    )  # fmt: skip
    algebra = p.graph.modules["Demo.Algebra"]
    assert [(i.module, i.public, r.kind) for i, r in zip(algebra.imports, algebra.resolutions, strict=True)] == [
        ("Demo.Basic", True, ResolutionKind.LOCAL),
        ("Std.Data.HashMap", False, ResolutionKind.CORE),
    ]
    assert algebra.header.is_module
    assert p.graph.modules["Demo.Order"].header_digest == algebra.header_digest


# -- library rules ----------------------------------------------------------------


def test_src_dir_composes_package_then_library(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": 'name = "p"\nsrcDir = "lean"\n[[lean_lib]]\nname = "A"\nsrcDir = "core"\n',
            "lean/core/A.lean": "import A.B\n",
            "lean/core/A/B.lean": "",
            "A.lean": "-- not a module of the library\n",
        }
    )
    p = project(root)
    assert lib(p, "A").base == "lean/core" and lib(p, "A").built == ("A", "A.B")
    assert p.graph.modules["A"].source.shown == "lean/core/A.lean"


def test_submodule_glob_excludes_its_root(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "T"\nglobs = ["T.+"]\n', "T.lean": "", "T/A.lean": ""})
    t = lib(project(root), "T")
    assert t.selected == ("T.A",) and t.orphans == ("T",)


def test_last_declared_library_wins(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n[[lean_lib]]\nname = "B"\nroots = ["A.Sub"]\n',
            "A.lean": "import A.Sub.X\n",
            "A/Sub/X.lean": "",
            "A/Y.lean": "",
        }
    )
    p = project(root)
    assert p.graph.modules["A.Sub.X"].library == "B"
    # `lake build A` still builds A.Sub.X: recCollectLocalModules follows A's own isLocalModule.
    assert lib(p, "A").built == ("A", "A.Sub.X") and lib(p, "A").orphans == ("A.Y",)
    # An orphan is a file no library builds: A builds A.Sub.X, so B (which selects only the
    # missing A.Sub) has none, though A.Sub.X is B's module for imports and sessions.
    assert lib(p, "B").built == () and lib(p, "B").orphans == ()
    assert p.built_by("A.Sub.X") == ("A",)


def test_import_closure_stays_in_the_library(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n[[lean_lib]]\nname = "B"\n',
            "A.lean": "import A.X\nimport B\n",
            "A/X.lean": "import B.Y\n",
            "B.lean": "",
            "B/Y.lean": "",
        }
    )
    p = project(root)
    assert lib(p, "A").built == ("A", "A.X")
    assert lib(p, "B").built == ("B",) and lib(p, "B").orphans == ("B.Y",)


def test_skips_build_package_and_hidden_folders(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n',
            "A.lean": "",
            "A/.hidden/X.lean": "",
            "A/.lake/Y.lean": "",
            "A/Real.lean": "",
            ".lake/build/lib/A.lean": "",
            "build/A.lean": "",
        }
    )
    assert [m.name for m in project(root).local_modules()] == ["A", "A.Real"]


def test_odd_file_names_become_escaped_modules_with_diagnostics(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n',
            "A/Foo-Bar.lean": "",
            "A/x.y.lean": "",
            "A/ok.lean": "import A.«Foo-Bar»\n",
        }
    )
    p = project(root)
    assert [m.name for m in p.local_modules()] == ["A.ok", "A.«Foo-Bar»", "A.«x.y»"]
    assert p.graph.modules["A.ok"].resolutions[0].kind is ResolutionKind.LOCAL
    assert codes(p).count("invalid-module-name") == 2


def test_non_utf8_file_name(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n', "A/ok.lean": ""})
    Path(os.fsdecode(bytes(root / "A") + b"/bad\xff.lean")).write_text("")
    p = project(root)
    assert [m.name for m in p.local_modules()] == ["A.ok"]
    assert "invalid-module-name" in codes(p)


def test_symlinks_are_followed_without_looping(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n', "shared/S.lean": ""})
    (root / "A").mkdir()
    (root / "A" / "Linked").symlink_to(root / "shared")
    (root / "A" / "Linked" / "Loop").symlink_to(root / "A")
    p = project(root)
    assert [m.name for m in p.local_modules()] == ["A.Linked.S"]
    assert any("loop" in d.message for d in p.diagnostics())


def test_unreadable_file_is_an_io_error(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n', "A/ok.lean": ""})
    (root / "A" / "gone.lean").symlink_to(root / "nowhere.lean")
    p = project(root)
    assert [m.name for m in p.local_modules()] == ["A.ok"]
    assert [d.path for d in p.diagnostics() if d.code is Code.IO_ERROR] == [
        str(root / "A" / "gone.lean")[len(str(root)) + 1 :]
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_unreadable_folder_is_an_io_error(tree: Tree) -> None:
    root = tree(
        {"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n', "A/ok.lean": "", "A/L/x.lean": ""}
    )
    (root / "A" / "L").chmod(0)
    try:
        p = project(root)
        assert "io-error" in codes(p) and [m.name for m in p.local_modules()] == ["A.ok"]
    finally:
        (root / "A" / "L").chmod(0o755)


def test_missing_module_roots(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n[[lean_lib]]\nname = "T"\nglobs = ["T.+"]\n'})
    p = project(root)
    assert codes(p).count("missing-module-root") == 2


def test_roots_option_restricts_and_reports_missing(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n[[lean_lib]]\nname = "B"\n',
            "A.lean": "",
            "A/X.lean": "import B\n",
            "B.lean": "",
        }
    )
    p = project(root, only_roots=("A.X",))
    assert [m.name for m in p.local_modules()] == ["A.X"]
    assert p.graph.modules["A.X"].resolutions[0].kind is ResolutionKind.LOCAL
    assert "missing-module-root" not in codes(p)  # A.lean exists, only outside the roots (tryout)
    p = project(root, only_roots=("Nope",))
    assert p.local_modules() == [] and "missing-module-root" in codes(p)


# -- imports ----------------------------------------------------------------------


def test_unresolved_imports_have_positions(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n', "A.lean": "import A.Missing\nimport Nope.X\n"})
    p = project(root)
    unresolved = [d for d in p.diagnostics() if d.code is Code.UNRESOLVED_IMPORT]
    assert [(d.path, d.line, d.column) for d in unresolved] == [("A.lean", 1, 7), ("A.lean", 2, 7)]
    assert "claims it, but there is no file" in unresolved[0].message
    assert "no library" in unresolved[1].message and unresolved[1].severity is Severity.ERROR


def test_import_cycles_are_named(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n',
            "A/X.lean": "import A.Y\n",
            "A/Y.lean": "import A.Z\n",
            "A/Z.lean": "import A.X\n",
            "A/Self.lean": "import A.Self\n",
        }
    )
    p = project(root)
    cycles = [d.message for d in p.diagnostics() if d.code is Code.IMPORT_CYCLE]
    assert cycles == ["import cycle: A.Self → A.Self", "import cycle: A.X → A.Y → A.Z → A.X"]
    assert len({p.graph.closure_digest(n) for n in ("A.X", "A.Y", "A.Z")}) == 3


def test_dependency_packages_from_the_manifest(tree: Tree) -> None:
    manifest = {
        "version": "1.1.0",
        "packagesDir": ".lake/packages",
        "packages": [
            {"type": "git", "name": "dep", "url": "u", "rev": "r", "inherited": False, "scope": ""},
            {"type": "git", "name": "gone", "url": "u", "rev": "r", "inherited": True, "scope": ""},
        ],
    }
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n',
            "lake-manifest.json": json.dumps(manifest),
            "A.lean": "import Dep.X\nimport Gone\n",
            ".lake/packages/dep/lakefile.lean": "import Lake\nopen Lake DSL\npackage dep\nlean_lib Dep\n",
            ".lake/packages/dep/Dep/X.lean": "import Dep.Y\n",
            ".lake/packages/dep/Dep/Y.lean": "",
        }
    )
    p = project(root)
    a = p.graph.modules["A"]
    assert [r.kind for r in a.resolutions] == [ResolutionKind.PACKAGE, ResolutionKind.UNRESOLVED]
    assert sorted(p.graph.modules) == ["A", "Dep.X", "Dep.Y"]
    assert "missing-package" in codes(p)
    (d,) = [d for d in p.diagnostics() if d.code is Code.UNRESOLVED_IMPORT]
    assert d.severity is Severity.WARNING and "see missing-package" in d.message
    assert "gone" not in d.message  # the missing packages are named once, not in every import's warning


@pytest.mark.parametrize(("version", "readable"), [(4, False), (6, True)])
def test_old_manifests_and_the_legacy_packages_folder(tree: Tree, version: int, readable: bool) -> None:
    manifest = {
        "version": version,
        "packagesDir": "lake-packages",
        "packages": [{"git": {"name": "old", "url": "u", "rev": "r"}}],
    }
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n',
            "lake-manifest.json": json.dumps(manifest),
            "A.lean": "import Old\n",
            "lake-packages/old/lakefile.toml": 'name = "old"\n[[lean_lib]]\nname = "Old"\n',
            "lake-packages/old/Old.lean": "",
        }
    )
    p = project(root)
    if readable:  # version 6 has the pre-v7 entry layout
        assert p.graph.modules["A"].resolutions[0].kind is ResolutionKind.PACKAGE and p.diagnostics() == []
    else:  # version 4 predates what Lake reads
        assert "manifest-error" in codes(p)


def test_path_dependency(tree: Tree) -> None:
    manifest = {"version": "1.2.0", "packages": [{"type": "path", "name": "h", "dir": "../helper", "inherited": False}]}
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\n',
            "lake-manifest.json": json.dumps(manifest),
            "A.lean": "import H\n",
        }
    )
    helper = root.parent / "helper"
    helper.mkdir()
    (helper / "lakefile.toml").write_text('name = "h"\n[[lean_lib]]\nname = "H"\n')
    (helper / "H.lean").write_text("")
    p = project(root)
    (r,) = p.graph.modules["A"].resolutions
    assert r.kind is ResolutionKind.PACKAGE and r.path == str(helper.resolve() / "H.lean")


def test_requires_without_manifest(tree: Tree) -> None:
    root = tree(
        {"lakefile.toml": TOML + '[[require]]\nname = "x"\ngit = "u"\n[[lean_lib]]\nname = "A"\n', "A.lean": ""}
    )
    assert "missing-package" in codes(project(root))


def test_bad_header_never_hides_the_rest(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": TOML + '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n',
            "A/Bad.lean": "import\tX\n/-! -/\nimport Y\n",
            "A/Good.lean": "import A.Bad\n",
        }
    )
    p = project(root)
    assert [m.name for m in p.local_modules()] == ["A.Bad", "A.Good"]
    assert codes(p).count("header-syntax") == 2


def test_broken_lakefile_still_gives_a_model(tree: Tree) -> None:
    root = tree({"lakefile.toml": 'name = "p"\n[[lean_lib]\n', "A.lean": ""})
    p = project(root)
    assert p.local_modules() == [] and codes(p) == ["lakefile-parse-error"]
