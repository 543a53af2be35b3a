"""Lean options from both lakefile forms, combined in Lake's precedence (issue 11 item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_batchd.lake import Code, LakeProject, discover
from lean_batchd.lake.config import BuildType, LeanConfig
from lean_batchd.lake.lakefile_lean import read_lean_config
from lean_batchd.lake.lakefile_toml import read_toml_config
from lean_batchd.lake.options import d_options, effective_options, lean_value
from lean_batchd.lake.report import project_json
from tests.conftest import Tree


def project(path: Path) -> LakeProject:
    found = discover(path)
    assert isinstance(found, LakeProject)
    return found


# -- precedence (LeanLib.leanOptions / leanArgs, runFrontend) ----------------------------


def test_lean_options_override_d_arguments_and_the_library_overrides_the_package() -> None:
    package = LeanConfig(
        lean_options=(("autoImplicit", False), ("pp.all", True)),
        more_lean_args=("-DmaxHeartbeats=400000", "-Dpp.all=false"),
    )
    library = LeanConfig(lean_options=(("pp.all", False),), more_lean_args=("-DautoImplicit=true", "-DmaxHeartbeats=7"))
    assert effective_options(package, library) == (("autoImplicit", False), ("maxHeartbeats", 7), ("pp.all", False))


def test_weak_arguments_come_first_and_later_d_arguments_win() -> None:
    package = LeanConfig(weak_lean_args=("-Dx=1",), more_lean_args=("-Dy=1",))
    library = LeanConfig(weak_lean_args=("-Dy=2", "-Dz=weak"), more_lean_args=("-D", "x=3", "-Dz=strong"))
    assert effective_options(package, library) == (("x", 3), ("y", 1), ("z", "strong"))


def test_the_minimum_build_type_adds_debug_assertions() -> None:
    debug = LeanConfig(build_type=BuildType.DEBUG)
    assert effective_options(LeanConfig(), debug) == (("debugAssertions", True),)
    assert effective_options(debug, LeanConfig(build_type=BuildType.RELEASE)) == (("debugAssertions", True),)
    assert effective_options(LeanConfig(build_type=BuildType.MIN_SIZE_REL), LeanConfig()) == ()
    assert effective_options(debug, LeanConfig(lean_options=(("debugAssertions", False),))) == (
        ("debugAssertions", False),
    )


def test_d_arguments_are_typed_and_malformed_ones_reported() -> None:
    found, problems = d_options(["-Da=true", "-Db=12", "-Dc=x y", "-Dd=", "-Dbad", "-j4", "-D"])
    assert found == [("a", True), ("b", 12), ("c", "x y"), ("d", "")]
    assert len(problems) == 2 and "-Dbad" in problems[0]
    assert [lean_value(v) for _, v in found] == ["true", "12", '"x y"', '""']


# -- lakefile.toml ----------------------------------------------------------------------


def test_toml_forms() -> None:
    text = (
        'name = "p"\nmoreLeanArgs = ["-DmaxHeartbeats=1"]\nbuildType = "relWithDebInfo"\n'
        "[leanOptions]\npp.unicode.fun = true\n'quoted.key' = 3\nweak.linter.style = true\n"
        '[[lean_lib]]\nname = "A"\nleanOptions = [["autoImplicit", false], {name = "x.y", value = "s"}]\n'
        'weakLeanArgs = ["-Dw=1"]\nbuildType = "debug"\n'
        '[[lean_lib]]\nname = "B"\nleanOptions = { experimental.module = true }\n'
        '[[lean_exe]]\nname = "e"\nleanOptions = [["exeOnly", 1]]\n'
    )
    c = read_toml_config(text, "lakefile.toml", "p")
    assert c.diagnostics == ()
    assert c.lean == LeanConfig(
        lean_options=(("pp.unicode.fun", True), ("«quoted.key»", 3), ("weak.linter.style", True)),
        more_lean_args=("-DmaxHeartbeats=1",),
        build_type=BuildType.REL_WITH_DEB_INFO,
    )
    a, b = c.libs
    assert a.lean == LeanConfig((("autoImplicit", False), ("x.y", "s")), (), ("-Dw=1",), BuildType.DEBUG)
    assert b.lean.lean_options == (("experimental.module", True),)
    assert c.exes[0].lean.lean_options == (("exeOnly", 1),)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("{ x = -1 }", "nonnegative"),
        ("{ x = 1.5 }", "nonnegative"),
        ("[[1, 2, 3]]", "size 2"),
        ('[{name = "x"}]', "`value`"),
        ('[["", 1]]', "name"),
        ('"text"', "table or an array"),
    ],
)
def test_toml_errors_are_diagnostics(value: str, why: str) -> None:
    c = read_toml_config(f'name = "p"\nleanOptions = {value}\nbuildType = "fast"\n', "lakefile.toml", "p")
    messages = [d.message for d in c.diagnostics if d.code is Code.LAKEFILE_PARSE_ERROR]
    assert any(why in m for m in messages) and any("buildType" in m for m in messages)
    assert c.lean.build_type is None


# -- lakefile.lean ----------------------------------------------------------------------

LEAN = "import Lake\nopen Lake DSL\n"


def test_lean_literal_forms() -> None:
    text = LEAN + (
        "package p where\n"
        "  leanOptions := #[⟨`pp.unicode.fun, true⟩, ⟨`autoImplicit, false⟩]\n"
        '  moreLeanArgs := #["-DmaxHeartbeats=400000"]\n'
        "  buildType := BuildType.debug\n"
        "lean_lib A where\n"
        '  leanOptions := #[{ name := `x, value := 3 }, ⟨`y, .ofString "s"⟩, ⟨`z, LeanOptionValue.ofNat 5⟩]\n'
        '  weakLeanArgs := #["-Dw=1"]\n'
        "  buildType := .minSizeRel\n"
        "lean_exe e where\n"
        "  leanOptions := #[⟨`exeOnly, .ofBool false⟩]\n"
    )
    c = read_lean_config(text, "lakefile.lean", "p")
    assert [d for d in c.diagnostics if d.code is not Code.LEGACY_CONFIG] == []
    assert c.lean == LeanConfig(
        (("pp.unicode.fun", True), ("autoImplicit", False)), ("-DmaxHeartbeats=400000",), (), BuildType.DEBUG
    )
    assert c.libs[0].lean == LeanConfig((("x", 3), ("y", "s"), ("z", 5)), (), ("-Dw=1",), BuildType.MIN_SIZE_REL)
    assert c.exes[0].lean.lean_options == (("exeOnly", False),)


def test_lean_dynamic_options_are_reported_not_guessed() -> None:
    text = LEAN + (
        "abbrev mathlibOptions : Array LeanOption := #[⟨`autoImplicit, false⟩]\n"
        "package p where\n  leanOptions := mathlibOptions\n"
        'lean_lib A where\n  moreLeanArgs := #["-Dx=1"] ++ extra\n  buildType := if ci then .debug else .release\n'
    )
    c = read_lean_config(text, "lakefile.lean", "p")
    assert c.lean == LeanConfig() and c.dynamic_fields == ("leanOptions",)
    assert c.libs[0].lean == LeanConfig() and c.libs[0].dynamic_fields == ("moreLeanArgs", "buildType")
    dynamic = [d for d in c.diagnostics if d.code is Code.DYNAMIC_CONFIG]
    assert len(dynamic) == 3 and "mathlibOptions`, defined on line 3" in dynamic[0].message


# -- the model ----------------------------------------------------------------------------


def test_each_module_gets_its_owners_options(tree: Tree) -> None:
    root = tree(
        {
            "lakefile.toml": 'name = "p"\nmoreLeanArgs = ["-DmaxHeartbeats=1"]\n[leanOptions]\nautoImplicit = false\n'
            '[[lean_lib]]\nname = "A"\nglobs = ["A.+"]\nleanOptions = [["pp.all", true]]\n'
            '[[lean_lib]]\nname = "B"\nglobs = ["A.X"]\nmoreLeanArgs = ["-DautoImplicit=true", "-Dbad"]\n'
            '[[lean_lib]]\nname = "T"\nglobs = ["T.+"]\n'
            '[[lean_exe]]\nname = "e"\nroot = "Main"\nleanOptions = [["exe", true]]\n',
            "A/X.lean": "",
            "A/Y.lean": "",
            "T.lean": "",
            "Main.lean": "",
        }
    )
    p = project(root)
    package = (("autoImplicit", False), ("maxHeartbeats", 1))
    assert p.lean_options("A.Y") == (*package, ("pp.all", True))
    assert p.lean_options("A.X") == package  # B owns it; B's -D loses to the package's leanOptions
    assert p.lean_options("T") == package  # no library can build T: the package's own
    assert p.lean_options("Main") == (("autoImplicit", False), ("exe", True), ("maxHeartbeats", 1))
    assert p.lean_options("Nope") is None
    shown = project_json(p)
    assert {lib["name"]: lib["options"] for lib in shown["libraries"]}["A"] == {
        "autoImplicit": False,
        "maxHeartbeats": 1,
        "pp.all": True,
    }
    assert {m["name"]: m["options"] for m in shown["modules"]}["A.X"] == {"autoImplicit": False, "maxHeartbeats": 1}
    notes = [(d.severity, d.message) for d in p.diagnostics() if d.code is Code.LEAN_OPTION]
    assert [s for s, _ in notes] == ["warning", "info"]
    assert "-Dbad" in notes[0][1] and "autoImplicit is false for Lake with module setup files" in notes[1][1]
