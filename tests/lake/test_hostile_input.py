"""Hostile and unlucky input: special files, deep nesting, huge numbers, long names, huge headers.

Every case gives a value with typed diagnostics: never a hang, an unbounded read or a traceback.
Cases that could hang or eat memory on a regression run in a child process with a time and
memory limit, so a regression fails the test instead of stalling the suite or the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lean_batchd.lake import Code, LakeProject, discover
from lean_batchd.lake.report import project_json
from tests.conftest import Tree

TOML = 'name = "p"\n[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\n'
LEAN = "import Lake\nopen Lake DSL\npackage p\nlean_lib A where\n"


def project(path: Path) -> LakeProject:
    found = discover(path)
    assert isinstance(found, LakeProject)
    return found


def codes(p: LakeProject) -> set[str]:
    return {str(d.code) for d in p.diagnostics()}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def discover_in_child(root: Path, then_touch: str | None = None) -> dict[str, object]:
    """Discover (and optionally update for one new path) in a child process limited to 20 s and
    2 GiB; returns the diagnostics' codes and messages and the module names."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from lean_batchd.lake import discover
        p = discover({str(root)!r})
        if {then_touch!r} is not None:
            p.update([{then_touch!r}])
        print(json.dumps({{"modules": sorted(p.graph.modules),
                          "diagnostics": [[str(d.code), d.message, d.path] for d in p.diagnostics()]}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, preexec_fn=_limit_memory
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


# -- special files (issue 13 item 2) -----------------------------------------------


@pytest.mark.parametrize("special", ["A/F.lean", "lake-manifest.json", "lean-toolchain", "lakefile.lean"])
def test_a_fifo_never_hangs_discovery(tree: Tree, special: str) -> None:
    root = tree({"lakefile.toml": TOML, "A/ok.lean": ""})
    os.mkfifo(root / special)
    found = discover_in_child(root)
    assert "A.ok" in found["modules"]  # type: ignore[operator]
    (d,) = [d for d in found["diagnostics"] if d[2] == special]  # type: ignore[union-attr]
    assert d[0] == "io-error" and ("FIFO" in d[1] or "not a regular file" in d[1])


def test_a_fifo_appearing_later_never_hangs_an_update(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML, "A/ok.lean": ""})
    os.mkfifo(root / "A/Late.lean")
    found = discover_in_child(root, then_touch=str(root / "A/Late.lean"))
    assert [d[0] for d in found["diagnostics"]] == ["io-error"]  # type: ignore[union-attr]


def test_a_link_to_dev_zero_is_not_read(tree: Tree) -> None:
    root = tree({"lakefile.toml": TOML, "A/ok.lean": ""})
    (root / "A/Zero.lean").symlink_to("/dev/zero")
    (root / "lean-toolchain").unlink(missing_ok=True)
    (root / "lean-toolchain").symlink_to("/dev/zero")
    found = discover_in_child(root)
    assert found["modules"] == ["A.ok"]
    assert sorted(d[2] for d in found["diagnostics"]) == ["A/Zero.lean", "lean-toolchain"]  # type: ignore[union-attr]
    assert all("a device" in d[1] for d in found["diagnostics"])  # type: ignore[union-attr]


def test_an_oversized_source_is_an_io_error(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    from lean_batchd.lake import source

    monkeypatch.setattr(source, "SOURCE_LIMIT", 1000)
    root = tree({"lakefile.toml": TOML, "A/Big.lean": "-- " + "x" * 2000 + "\n", "A/ok.lean": ""})
    p = project(root)
    assert sorted(p.graph.modules) == ["A.ok"]
    (d,) = [d for d in p.diagnostics() if d.code is Code.IO_ERROR]
    assert d.path == "A/Big.lean" and "limit" in d.message


# -- malformed and extreme configuration (issue 13 item 7) ---------------------------

_EXTREME: dict[str, tuple[str, str, Code]] = {
    "toml arrays 5,000 deep": (
        "lakefile.toml",
        TOML + "x = " + "[" * 5000 + "]" * 5000 + "\n",
        Code.LAKEFILE_PARSE_ERROR,
    ),
    "toml 5,000-digit integer": ("lakefile.toml", TOML + "x = 1" + "0" * 5000 + "\n", Code.LAKEFILE_PARSE_ERROR),
    "lean parentheses 50,000 deep": (
        "lakefile.lean",
        LEAN + "  srcDir := " + "(" * 50000 + '"x"' + ")" * 50000 + "\n",
        Code.LAKEFILE_PARSE_ERROR,
    ),
    "lean #[ 50,000 deep": (
        "lakefile.lean",
        LEAN + "  roots := " + "#[" * 50000 + "]" * 50000 + "\n",
        Code.LAKEFILE_PARSE_ERROR,
    ),
    "manifest JSON 100,000 deep": ("lake-manifest.json", "[" * 100000 + "]" * 100000, Code.MANIFEST_ERROR),
    "manifest 5,000-digit integer": ("lake-manifest.json", '{"version": 1' + "0" * 5000 + "}", Code.MANIFEST_ERROR),
}


@pytest.mark.parametrize("case", sorted(_EXTREME))
def test_extreme_configuration_is_a_typed_diagnostic(tree: Tree, case: str) -> None:
    name, text, code = _EXTREME[case]
    root = tree({"lakefile.toml": TOML, "A/ok.lean": ""})
    (root / name).write_text(text)
    p = project(root)
    assert code in {d.code for d in p.diagnostics()}
    project_json(p)  # the whole report renders


@pytest.mark.parametrize(
    "lakefile",
    [
        'name = "p"\n[[lean_lib]]\nname = "' + "N" * 300 + '"\n',
        'name = "p"\n[[lean_lib]]\nname = "A"\nsrcDir = "' + "s" * 300 + '"\n',
        'name = "p"\n[[lean_lib]]\nname = "A"\nglobs = ["' + "G" * 300 + '.+"]\n',
        'name = "p"\n[[lean_lib]]\nname = "A"\nsrcDir = "a\\u0000b"\n',
        'name = "p"\npackagesDir = "' + "p" * 300 + '"\n[[lean_lib]]\nname = "A"\n',
    ],
    ids=["library name", "srcDir", "glob", "NUL byte", "packagesDir"],
)
def test_impossible_path_parts_are_diagnostics(tree: Tree, lakefile: str) -> None:
    root = tree({"lakefile.toml": lakefile, "A.lean": "import " + "M" * 300 + "\n"})
    p = project(root)
    assert "missing-module-root" in codes(p) or "unresolved-import" in codes(p)
    project_json(p)
    p.update([root / "A.lean", root / ("x" * 300 + ".lean")])


def test_a_manifest_package_with_an_impossible_name(tree: Tree) -> None:
    manifest = {"version": "1.1.0", "packages": [{"type": "git", "name": "n" * 300, "url": "u", "inherited": False}]}
    root = tree({"lakefile.toml": TOML, "lake-manifest.json": json.dumps(manifest), "A/ok.lean": ""})
    assert "missing-package" in codes(project(root))


def test_an_unreadable_lakefile_keeps_the_last_good_libraries(tree: Tree) -> None:
    """A lakefile caught mid-edit (or hostile) reports its error; the model keeps its libraries
    and modules instead of emptying them, and takes the next good version."""
    root = tree({"lakefile.toml": TOML, "A/X.lean": "import A.Y\n", "A/Y.lean": ""}).resolve()
    p = project(root)
    before = sorted(p.graph.modules)
    for broken in ('name = "p"\n[[lean_lib]\n', TOML + "x = " + "[" * 5000 + "]" * 5000 + "\n"):
        (root / "lakefile.toml").write_text(broken)
        change = p.update([root / "lakefile.toml"])
        assert change.config_changed and change.removed == ()
        assert sorted(p.graph.modules) == before and [lib.library.name for lib in p.libraries()] == ["A"]
        assert {d.code for d in p.diagnostics()} == {Code.LAKEFILE_PARSE_ERROR}
    (root / "lakefile.lean").write_text(LEAN + "  roots := " + "(" * 50000 + ")" * 50000 + "\n")
    p.update([root / "lakefile.lean"])
    assert sorted(p.graph.modules) == before
    (root / "lakefile.lean").unlink()
    (root / "lakefile.toml").write_text('name = "p"\n[[lean_lib]]\nname = "B"\nroots = ["A.Y"]\n')
    p.update([root / "lakefile.lean", root / "lakefile.toml"])
    assert sorted(p.graph.modules) == ["A.Y"] and p.diagnostics() == []


# -- linear costs (issue 13 item 8) -----------------------------------------------------


def _best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _growth(make: Callable[[int], Callable[[], object]], small: int) -> float:
    """Time at 10x the size over time at the size: ~10 when linear, ~100 when quadratic (best of
    5 each, so a loaded machine slows both sides alike rather than one)."""
    return _best_of(5, make(small * 10)) / max(_best_of(5, make(small)), 1e-4)


def test_a_long_src_dir_join_is_linear(tmp_path: Path) -> None:
    def make(parts: int) -> Callable[[], object]:
        root = tmp_path / f"p{parts}"
        root.mkdir()
        (root / "lakefile.lean").write_text(LEAN + "  srcDir := " + " / ".join(['"a"'] * parts) + "\n")
        return lambda: project(root)

    assert _growth(make, 800) < 50


def test_a_huge_header_in_discover_json_is_linear(tmp_path: Path) -> None:
    def make(imports: int) -> Callable[[], object]:
        root = tmp_path / f"h{imports}"
        root.mkdir()
        (root / "lakefile.toml").write_text(TOML.replace('globs = ["A.+"]\n', ""))
        (root / "A.lean").write_text("".join(f"import X{i}\n" for i in range(imports)))
        return lambda: project_json(project(root))

    assert _growth(make, 6000) < 50
