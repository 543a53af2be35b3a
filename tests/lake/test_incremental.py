"""Incremental updates (and rescans) leave exactly the model a fresh discovery builds."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.lake import LakeProject, ModelChange, discover
from tests.conftest import write_tree

NAMES = ["A", "A.B", "A.C", "A.B.D", "Lib2", "Lib2.E", "Core.X", "Dep.Y"]
LAKEFILES = [
    'name = "p"\n[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n[[lean_lib]]\nname = "Lib2"\n',
    'name = "p"\n[[lean_lib]]\nname = "A"\n[[lean_lib]]\nname = "Lib2"\nglobs = ["Lib2.+"]\n',
    'name = "p"\nsrcDir = "src"\n[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n',
    # Overlaps: a later root inside an earlier glob, a glob shared by two libraries.
    'name = "p"\n[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n[[lean_lib]]\nname = "B"\nroots = ["A.B"]\n'
    '[[lean_lib]]\nname = "Lib2"\nglobs = ["Lib2.+", "A.C"]\n',
    # Nested source folders: A/B.lean is A.B of Outer and B of Inner.
    'name = "p"\n[[lean_lib]]\nname = "Outer"\nroots = ["A", "Lib2"]\n[[lean_lib]]\nname = "Inner"\nsrcDir = "A"\nroots = ["B", "C"]\n',
    # Same names in two source folders (files left in src/ by the srcDir = "src" lakefile).
    'name = "p"\n[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n[[lean_lib]]\nname = "S"\nsrcDir = "src"\nglobs = ["A.+"]\n',
]
MANIFEST = (
    '{"version": "1.1.0", "packagesDir": ".lake/packages", "packages": '
    '[{"type": "git", "name": "dep", "url": "u", "rev": "r", "inherited": false, "scope": ""}]}'
)


def snapshot(p: LakeProject) -> dict[str, Any]:
    modules = {
        name: (
            m.path,
            m.package,
            m.library,
            m.exe,
            m.digest,
            m.header_digest,
            m.resolutions,
            p.graph.closure_digest(name),
            p.is_local(name),
        )
        for name, m in p.graph.modules.items()
    }
    libraries = [(lib.library.name, lib.selected, lib.built, lib.orphans) for lib in p.libraries()]
    built_by = {name: p.built_by(name) for name in p.graph.modules}
    return {
        "modules": modules,
        "libraries": libraries,
        "built_by": built_by,
        "fingerprint": p.fingerprint(),
        "diagnostics": p.diagnostics(),
        "cycles": p.graph.cycles(),
    }


def fresh(root: Path) -> LakeProject:
    found = discover(root)
    assert isinstance(found, LakeProject)
    return found


def module_path(root: Path, name: str, src: str) -> Path:
    parts = name.split(".")
    if name.startswith("Dep"):
        return root / ".lake/packages/dep" / Path(*parts).with_suffix(".lean")
    return root / src / Path(*parts).with_suffix(".lean")


_header = st.lists(st.sampled_from(NAMES), max_size=3).map(lambda ns: "".join(f"import {n}\n" for n in ns))
_body = st.sampled_from(["", "def x := 1\n", "theorem t : True := trivial\n", "-- note\n"])
_op = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), _header, _body),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("lakefile"), st.integers(0, len(LAKEFILES) - 1)),
    st.tuples(st.just("rmdir"), st.sampled_from(["A", "A/B", "Lib2"])),
)


def apply(root: Path, op: tuple[Any, ...], state: dict[str, Any]) -> list[Path]:
    """Perform one change on disk; return the paths a watcher would report."""
    src = "src" if state["lakefile"] == 2 else "."
    kind = op[0]
    if kind == "write":
        path = module_path(root, op[1], src)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(op[2] + op[3])
        return [path]
    if kind == "delete":
        path = module_path(root, op[1], src)
        path.unlink(missing_ok=True)
        return [path]
    if kind == "rename":
        old, new = module_path(root, op[1], src), module_path(root, op[2], src)
        if not old.exists() or old == new:
            return []
        new.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, new)
        return [old, new]
    if kind == "lakefile":
        state["lakefile"] = op[1]
        (root / "lakefile.toml").write_text(LAKEFILES[op[1]])
        return [root / "lakefile.toml"]
    folder = root / src / op[1]
    if folder.is_dir():
        for parent, dirs, files in os.walk(folder, topdown=False):
            for f in files:
                os.unlink(os.path.join(parent, f))
            for d in dirs:
                os.rmdir(os.path.join(parent, d))
        os.rmdir(folder)
    return [folder]


def initial_tree(root: Path, lakefile: int = 0) -> None:
    write_tree(
        root,
        {
            "lakefile.toml": LAKEFILES[lakefile],
            "lake-manifest.json": MANIFEST,
            ".lake/packages/dep/lakefile.toml": 'name = "dep"\n[[lean_lib]]\nname = "Dep"\n',
            "A.lean": "import A.B\nimport Dep.Y\n",
            "A/B.lean": "import A.C\n",
            "A/C.lean": "def c := 1\n",
            "Lib2.lean": "import A\n",
            ".lake/packages/dep/Dep/Y.lean": "import Core.X\n",
        },
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(LAKEFILES) - 1), st.lists(_op, min_size=1, max_size=8))
def test_update_equals_fresh_discovery(lakefile: int, ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        initial_tree(root, lakefile)
        incremental = fresh(root)
        state = {"lakefile": lakefile}
        for op in ops:
            paths = apply(root, op, state)
            incremental.update(paths)
            assert snapshot(incremental) == snapshot(fresh(root)), op


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(LAKEFILES) - 1), st.lists(_op, min_size=1, max_size=6), st.booleans())
def test_rescan_equals_fresh_discovery(lakefile: int, ops: list[tuple[Any, ...]], each: bool) -> None:
    """Once after all the changes (a missed burst), or after each one (what a stored model goes
    through: each run rescans what changed since the last one)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        initial_tree(root, lakefile)
        rescanned = fresh(root)
        state = {"lakefile": lakefile}
        for op in ops:
            apply(root, op, state)
            if each:
                rescanned.rescan()
                assert snapshot(rescanned) == snapshot(fresh(root)), op
        rescanned.rescan()
        assert snapshot(rescanned) == snapshot(fresh(root))


def test_rescan_finds_a_dependency_file_an_import_was_missing(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("lean_batchd.lake.inputs.RACY_WINDOW_NS", 0)  # files just written count as settled
    root = tmp_path.resolve()
    initial_tree(root)
    dep = root / ".lake/packages/dep/Dep/Y.lean"
    text = dep.read_text()
    dep.unlink()
    project = fresh(root)
    assert project.graph.get("Dep.Y") is None
    dep.write_text(text)
    change = project.rescan()
    assert "Dep.Y" in change.added and project.graph.get("Dep.Y") is not None
    assert snapshot(project) == snapshot(fresh(root))


def test_changes_are_classified(tree) -> None:  # type: ignore[no-untyped-def]
    root = tree({"lakefile.toml": LAKEFILES[0], "A.lean": "import A.B\n", "A/B.lean": "def b := 1\n"}).resolve()
    p = fresh(root)
    (root / "A/B.lean").write_text("def b := 2\n")
    assert p.update([root / "A/B.lean"]) == ModelChange(body_changed=("A.B",))
    (root / "A/B.lean").write_text("import A.C\ndef b := 2\n")
    assert p.update([root / "A/B.lean"]) == ModelChange(header_changed=("A.B",))
    (root / "A/C.lean").write_text("")
    change = p.update([root / "A/C.lean"])
    assert change.added == ("A.C",) and change.header_changed == ("A.B",)  # its import now resolves
    (root / "A/C.lean").unlink()
    change = p.update([root / "A/C.lean"])
    assert change.removed == ("A.C",) and change.header_changed == ("A.B",)
    assert p.update([root / "A/C.lean"]).empty


def test_unchanged_content_is_no_change(tree) -> None:  # type: ignore[no-untyped-def]
    root = tree({"lakefile.toml": LAKEFILES[0], "A.lean": "def a := 1\n"}).resolve()
    p = fresh(root)
    before = p.fingerprint()
    (root / "A.lean").write_text("def a := 1\n")
    assert p.update([root / "A.lean"]).empty and p.fingerprint().digest == before.digest


def test_config_change_reevaluates_libraries(tree) -> None:  # type: ignore[no-untyped-def]
    root = tree({"lakefile.toml": LAKEFILES[0], "A.lean": "", "Lib2.lean": "", "Lib2/E.lean": ""}).resolve()
    p = fresh(root)
    (root / "lakefile.toml").write_text(LAKEFILES[1])
    change = p.update([root / "lakefile.toml"])
    assert change.config_changed and change.removed == () and change.added == ()
    assert [lib.selected for lib in p.libraries()] == [("A",), ("Lib2.E",)]


def test_rescan_sees_an_edit_that_keeps_size_and_mtime(tree) -> None:  # type: ignore[no-untyped-def]
    root = tree({"lakefile.toml": LAKEFILES[0], "A.lean": "def a := 1\n"}).resolve()
    path = root / "A.lean"
    st_before = path.stat()
    os.utime(path, ns=(st_before.st_atime_ns - 10**10, st_before.st_mtime_ns - 10**10))
    p = fresh(root)
    old = p.fingerprint()
    mtime = path.stat().st_mtime_ns
    path.write_text("def a := 2\n")
    os.utime(path, ns=(mtime, mtime))
    change = p.rescan()
    assert change.body_changed == ("A",) and p.fingerprint().source_digest != old.source_digest
    assert p.fingerprint().source_max_mtime_ns == old.source_max_mtime_ns
