"""`lakefile.lean`, read statically: every literal form of the spec, every dynamic form diagnosed."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_batchd.lake import Code, Glob, GlobKind, Severity
from lean_batchd.lake.config import PackageConfig, RequireKind
from lean_batchd.lake.lakefile_lean import read_lean_config

HEAD = "import Lake\nopen Lake DSL\n\n"


def read(body: str) -> PackageConfig:
    return read_lean_config(HEAD + body, "lakefile.lean", "folder")


def dynamic(c: PackageConfig) -> list[tuple[int | None, Severity, str]]:
    return [(d.line, d.severity, d.message) for d in c.diagnostics if d.code is Code.DYNAMIC_CONFIG]


@pytest.mark.parametrize(
    ("decl", "name"),
    [
        ('package foo where\n  srcDir := "."\n', "foo"),
        ("package «foo-bar»\n", "«foo-bar»"),
        ('package "verso-manual"\n', "«verso-manual»"),
        ('package foo {\n  srcDir := "."\n}\n', "foo"),
        ("package foo\n", "foo"),
        ("package Foo.Bar where\n", "Foo.Bar"),
    ],
)
def test_package_forms(decl: str, name: str) -> None:
    c = read(decl + "lean_lib X\n")
    assert c.name == name
    assert [d for d in c.diagnostics if d.severity is not Severity.INFO] == []


def test_package_fields() -> None:
    c = read(
        'package foo where\n  srcDir := "src" / "lean"\n  buildDir := "out"\n  packagesDir := "deps"\nlean_lib A\n'
    )
    assert c.src_dir == PurePosixPath("src/lean")
    assert c.build_dir == PurePosixPath("out") and c.packages_dir == PurePosixPath("deps")


@pytest.mark.parametrize(
    ("decl", "name", "roots", "globs"),
    [
        ("lean_lib Foo", "Foo", ("Foo",), [("one", "Foo")]),
        ("lean_lib «Foo-bar» where", "«Foo-bar»", ("«Foo-bar»",), [("one", "«Foo-bar»")]),
        ('lean_lib "foo.bar"', "«foo.bar»", ("«foo.bar»",), [("one", "«foo.bar»")]),
        ("lean_lib Manual where", "Manual", ("Manual",), [("one", "Manual")]),
        ("lean_lib LeanCopilot { }", "LeanCopilot", ("LeanCopilot",), [("one", "LeanCopilot")]),
        ("lean_lib T where globs := .submodules `T", "T", ("T",), [("submodules", "T")]),
        (
            "lean_lib T2 where globs := #[`T2.+, `Demo.*]",
            "T2",
            ("T2",),
            [("submodules", "T2"), ("andSubmodules", "Demo")],
        ),
        (
            "lean_lib ProofWidgets.Demos where globs := #[.submodules `ProofWidgets.Demos]",
            "ProofWidgets.Demos",
            ("ProofWidgets.Demos",),
            [("submodules", "ProofWidgets.Demos")],
        ),
        (
            'lean_lib Foo where\n  srcDir := "src"\n  roots := #[`A, `B]\n'
            "  globs := #[.submodules `A, .andSubmodules `B, .one `C, Glob.one `D, `E]",
            "Foo",
            ("A", "B"),
            [("submodules", "A"), ("andSubmodules", "B"), ("one", "C"), ("one", "D"), ("one", "E")],
        ),
        ("lean_lib R where\n  roots := #[`X, ``Y]", "R", ("X", "Y"), [("one", "X"), ("one", "Y")]),
        ('lean_lib B { roots := #[`X], srcDir := "s" }', "B", ("X",), [("one", "X")]),
        ('lean_lib Semi where srcDir := "s"; roots := #[`Z]', "Semi", ("Z",), [("one", "Z")]),
        ("lean_lib Old : LeanLibConfig := { roots := #[`W] }", "Old", ("W",), [("one", "W")]),
    ],
)
def test_lean_lib_forms(decl: str, name: str, roots: tuple[str, ...], globs: list[tuple[str, str]]) -> None:
    c = read("package p\n" + decl + "\n")
    (lib,) = c.libs
    assert lib.name == name and lib.roots == roots
    assert [(str(g.kind), g.name) for g in lib.globs] == globs
    assert lib.dynamic_fields == ()
    assert [d for d in c.diagnostics if d.severity is not Severity.INFO] == []


def test_attributes_and_doc_comments() -> None:
    c = read("package p\n/-- the lib -/\n@[default_target]\nlean_lib A\n@[default_target] lean_lib B\nlean_lib C\n")
    assert [(lib.name, lib.default_target) for lib in c.libs] == [("A", True), ("B", True), ("C", False)]
    assert c.default_targets == ("A", "B")


def test_attribute_command_marks_default_target() -> None:
    c = read("package p\nlean_lib A\nattribute [default_target] A\n")
    assert c.libs[0].default_target


def test_exes() -> None:
    c = read(
        "package p\nlean_exe «doc-gen4» { root := `Main, supportInterpreter := true }\n"
        'lean_exe cache where\n  root := `Cache.Main\n  srcDir := "scripts"\n'
        'lean_exe "generate-manual"\nlean_lib L\n'
    )
    assert [(e.name, e.root, e.src_dir, e.exe_name) for e in c.exes] == [
        ("«doc-gen4»", "Main", PurePosixPath("."), "doc-gen4"),
        ("cache", "Cache.Main", PurePosixPath("scripts"), "cache"),
        ("«generate-manual»", "«generate-manual»", PurePosixPath("."), "generate-manual"),
    ]


def test_require_forms() -> None:
    c = read(
        "package p\n"
        'require batteries from git "https://github.com/leanprover-community/batteries" @ "main"\n'
        'require "leanprover-community" / "mathlib" @ git "v4.25.0"\n'
        'require subverso from git "https://x/subverso"@"main"\n'
        'require Foo from git "url" @ "rev" / "sub/dir"\n'
        'require foo from "../foo"\n'
        'require bar from ".." / "bar"\n'
        'require doc from git\n  "https://x/doc" @ "main"\n'
        'require "x" / "proofwidgets" @ git "v0.0.86"\n  with NameMap.empty.insert `errorOnBuild "msg"\n'
        'require Cli @ "1.0.0"\n'
        "lean_lib L\n"
    )
    got = [(r.name, r.scope, r.kind, r.url, r.path, r.rev, r.version, r.sub_dir) for r in c.requires]
    assert got == [
        (
            "batteries",
            "",
            RequireKind.GIT,
            "https://github.com/leanprover-community/batteries",
            None,
            "main",
            None,
            None,
        ),
        ("mathlib", "leanprover-community", RequireKind.RESERVOIR, None, None, "v4.25.0", None, None),
        ("subverso", "", RequireKind.GIT, "https://x/subverso", None, "main", None, None),
        ("Foo", "", RequireKind.GIT, "url", None, "rev", None, "sub/dir"),
        ("foo", "", RequireKind.PATH, None, "../foo", None, None, None),
        ("bar", "", RequireKind.PATH, None, "../bar", None, None, None),
        ("doc", "", RequireKind.GIT, "https://x/doc", None, "main", None, None),
        ("proofwidgets", "x", RequireKind.RESERVOIR, None, None, "v0.0.86", None, None),
        ("Cli", "", RequireKind.RESERVOIR, None, None, None, "1.0.0", None),
    ]
    assert [m for _, s, m in dynamic(c) if "with" in m] and all(s is Severity.INFO for _, s, _ in dynamic(c))


def test_comments_and_strings_hide_commands() -> None:
    c = read(
        "package p\n/- lean_lib Hidden\n /- nested lean_lib Hidden2 -/ -/\n-- lean_lib Hidden3\n"
        'def s := "lean_lib Hidden4"\ndef r := r#"lean_lib "Hidden5""#\nlean_lib Real\n'
    )
    assert [lib.name for lib in c.libs] == ["Real"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("globs", '#[.submodules "LeanCopilotTests".toName]'),
        ("roots", "myRoots"),
        ("srcDir", '__dir__ / "x"'),
        ("srcDir", 's!"src/{name}"'),
        ("roots", '#[Name.mkSimple "x"]'),
        ("globs", "if true then #[`A] else #[`B]"),
        ("roots", "#[`A] ++ #[`B]"),
    ],
)
def test_dynamic_membership_fields_fall_back_and_are_marked(field: str, value: str) -> None:
    c = read(f"def myRoots := #[`X]\npackage p\nlean_lib Dyn where\n  {field} := {value}\n")
    (lib,) = c.libs
    assert lib.dynamic_fields == (field,)
    assert lib.roots == ("Dyn",) and lib.globs == (Glob(GlobKind.ONE, "Dyn"),)
    ((line, severity, message),) = dynamic(c)
    assert line == 7 and severity is Severity.WARNING and f"`{field}" in message and "default" in message


def test_dynamic_reference_names_the_definition() -> None:
    c = read("abbrev opts := #[⟨`pp.unicode.fun, true⟩]\npackage p where\n  leanOptions := opts\nlean_lib A\n")
    ((_, severity, message),) = dynamic(c)
    assert severity is Severity.WARNING and "`opts`, defined on line 4" in message
    assert "sessions will not apply these options" in message


def test_meta_if_is_diagnosed_and_its_targets_ignored() -> None:
    c = read(
        'package p\nlean_lib A\nmeta if get_config? env = some "dev" then\nlean_lib Hidden\n'
        "meta if true then do\n  lean_lib H1\n  lean_exe h2\nelse\n  lean_lib H3\nlean_lib B\n"
    )
    assert [lib.name for lib in c.libs] == ["A", "B"] and c.exes == ()
    messages = [m for _, _, m in dynamic(c)]
    assert len(messages) == 2 and "Hidden" in messages[0] and "H1" in messages[1]


@pytest.mark.parametrize(
    "command",
    ['run_io IO.println "x"', "my_target_macro Foo", "target foo : Unit := pure ()", "script hello do\n  return 0"],
)
def test_other_commands_never_break_reading(command: str) -> None:
    c = read(f"package p\nlean_lib A\n{command}\nlean_lib B\n")
    assert [lib.name for lib in c.libs] == ["A", "B"]


def test_unknown_field_is_warned() -> None:
    c = read('package p\nlean_lib A where\n  srcdir := "x"\n')
    assert [d.code for d in c.diagnostics] == [Code.UNKNOWN_CONFIG_KEY]


def test_legacy_package_without_lean_lib() -> None:
    c = read("package Qq where\n  defaultFacet := PackageFacet.oleans\n")
    assert c.legacy and [lib.roots for lib in c.libs] == [("Qq",)]
    assert [d.code for d in c.diagnostics if d.code is Code.LEGACY_CONFIG]


def test_exe_only_package_is_not_legacy() -> None:
    c = read("package tool\nlean_exe tool\n")
    assert not c.legacy and c.libs == ()


def test_lex_errors_are_diagnostics() -> None:
    c = read('package p\nlean_lib A where\n  srcDir := "unterminated\n')
    assert any(d.code is Code.LAKEFILE_PARSE_ERROR and "unterminated string" in d.message for d in c.diagnostics)


def test_missing_package_declaration() -> None:
    c = read("lean_lib A\n")
    assert c.name == "folder" and any("no `package`" in d.message for d in c.diagnostics)


def test_mathlib_style_lakefile() -> None:
    c = read_lean_config(
        """import Lake

open Lake DSL

abbrev mathlibOnlyLinters : Array LeanOption := #[
  ⟨`linter.mathlibStandardSet, true⟩,
]

abbrev mathlibLeanOptions := #[
    ⟨`pp.unicode.fun, true⟩,
    ⟨`autoImplicit, false⟩
  ] ++ -- options that are used in `lake build`
    mathlibOnlyLinters.map fun s ↦ { s with name := `weak ++ s.name }

package mathlib where
  testDriver := "MathlibTest"
  lintDriver := "batteries/runLinter"
  lintDriverArgs := #["Mathlib"]

require "leanprover-community" / "batteries" @ git "main"
require "leanprover-community" / "proofwidgets" @ git "v0.0.86" -- ProofWidgets should always be pinned
  with NameMap.empty.insert `errorOnBuild
    "ProofWidgets not up-to-date. \\
    Please run `lake exe cache get` to fetch the latest ProofWidgets. \\
    If this does not work, report your issue on the Lean Zulip."

@[default_target]
lean_lib Mathlib where
  leanOptions := mathlibLeanOptions

lean_lib Cache

lean_lib MathlibTest where
  globs := #[.submodules `MathlibTest]

lean_lib docs where
  roots := #[`docs]

@[default_target]
lean_exe cache where
  root := `Cache.Main

lean_exe «check-yaml» where
  srcDir := "scripts"
  supportInterpreter := true

post_update pkg do
  let rootPkg ← getRootPackage
  if rootPkg.name = pkg.name then
    return -- do not run in Mathlib itself
""",
        "lakefile.lean",
        "m",
    )
    assert [lib.name for lib in c.libs] == ["Mathlib", "Cache", "MathlibTest", "docs"]
    assert c.libs[2].globs == (Glob(GlobKind.SUBMODULES, "MathlibTest"),)
    assert [(e.name, e.root, str(e.src_dir)) for e in c.exes] == [
        ("cache", "Cache.Main", "."),
        ("«check-yaml»", "«check-yaml»", "scripts"),
    ]
    assert c.default_targets == ("Mathlib", "cache")
    assert [r.name for r in c.requires] == ["batteries", "proofwidgets"]
    # Mathlib's options come from an abbrev: unknown without Lean, and said so (they matter to sessions).
    warned = [d for d in c.diagnostics if d.severity is not Severity.INFO]
    assert [(d.code, d.line) for d in warned] == [(Code.DYNAMIC_CONFIG, 29)] and c.libs[0].dynamic_fields == (
        "leanOptions",
    )


_lakefile_atoms = st.sampled_from(
    [
        "package",
        "lean_lib",
        "lean_exe",
        "require",
        "where",
        "from",
        "git",
        "@",
        "/",
        ":=",
        "{",
        "}",
        "#[",
        "]",
        "(",
        ")",
        ",",
        ";",
        "`A",
        "``B",
        ".submodules",
        "Glob.one",
        "`C.+",
        '"s"',
        'r#"x"#',
        "/-",
        "-/",
        "--",
        "«x",
        "»",
        "\n",
        "  ",
        "meta if",
        "then",
        "else",
        "@[default_target]",
        "roots",
        "globs",
        "srcDir",
        "'c'",
        '"\\',
        "/--",
        "attribute [default_target]",
    ]
)


@settings(max_examples=400)
@given(st.lists(_lakefile_atoms, max_size=40).map(" ".join))
def test_reader_never_raises_on_token_soup(text: str) -> None:
    read_lean_config(text, "lakefile.lean", "f")


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_reader_never_raises_on_text(text: str) -> None:
    read_lean_config(text, "lakefile.lean", "f")
