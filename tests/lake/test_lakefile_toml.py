"""`lakefile.toml` with Lake's decoding rules."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from lean_batchd.lake import Code, Glob, GlobKind, Severity
from lean_batchd.lake.config import RequireKind
from lean_batchd.lake.globs import parse_glob
from lean_batchd.lake.lakefile_toml import read_toml_config


def read(text: str):  # type: ignore[no-untyped-def]
    return read_toml_config(text, "lakefile.toml", "folder")


def test_package_keys() -> None:
    c = read(
        'name = "Foo.Bar"\nsrcDir = "./src/"\nbuildDir = "out"\npackagesDir = "deps"\n'
        'defaultTargets = ["A", "my-lib"]\nversion = "1.0.0"\n'
    )
    assert c.name == "Foo.Bar"
    assert c.src_dir == PurePosixPath("src") and c.build_dir == PurePosixPath("out")
    assert c.packages_dir == PurePosixPath("deps")
    assert c.default_targets == ("A", "«my-lib»")
    assert c.diagnostics == ()


def test_lib_defaults_roots_and_globs() -> None:
    c = read('name = "p"\n[[lean_lib]]\nname = "A"\n')
    (lib,) = c.libs
    assert lib.roots == ("A",) and lib.globs == (Glob(GlobKind.ONE, "A"),)
    assert lib.src_dir == PurePosixPath(".") and lib.lib_name == "A"


def test_roots_without_globs_recompute_globs() -> None:
    (lib,) = read('name = "p"\n[[lean_lib]]\nname = "A"\nroots = ["X", "Y.Z"]\n').libs
    assert lib.roots == ("X", "Y.Z")
    assert lib.globs == (Glob(GlobKind.ONE, "X"), Glob(GlobKind.ONE, "Y.Z"))


def test_globs_array_or_single_string_with_escapes() -> None:
    (lib,) = read('name = "p"\n[[lean_lib]]\nname = "T"\nglobs = "T.+"\n').libs
    assert lib.globs == (Glob(GlobKind.SUBMODULES, "T"),) and lib.roots == ("T",)
    (lib,) = read('name = "p"\n[[lean_lib]]\nname = "T"\nglobs = ["A", "B.+", "C.*", "«my-lib».+"]\n').libs
    assert lib.globs == (
        Glob(GlobKind.ONE, "A"),
        Glob(GlobKind.SUBMODULES, "B"),
        Glob(GlobKind.AND_SUBMODULES, "C"),
        Glob(GlobKind.SUBMODULES, "«my-lib»"),
    )


def test_roots_must_be_an_array_and_names() -> None:
    c = read('name = "p"\n[[lean_lib]]\nname = "A"\nroots = "A"\n')
    assert any(d.code is Code.LAKEFILE_PARSE_ERROR and "array" in d.message for d in c.diagnostics)
    c = read('name = "p"\n[[lean_lib]]\nname = "A"\nroots = ["my-lib"]\n')
    (d,) = c.diagnostics
    assert "expected name" in d.message and d.line == 4


def test_names_follow_lake() -> None:
    c = read('name = "p"\n[[lean_lib]]\nname = "A.B"\n[[lean_lib]]\nname = "my-lib"\n[[lean_lib]]\nname = "«x-y».Z"\n')
    assert [lib.name for lib in c.libs] == ["A.B", "«my-lib»", "«x-y».Z"]
    assert c.libs[0].lib_name == "A_B"


def test_unknown_keys_are_kept_and_warned() -> None:
    c = read('name = "p"\nsrcdir = "x"\n[[lean_lib]]\nname = "A"\nsrcdir = "y"\n')
    warnings = [d for d in c.diagnostics if d.code is Code.UNKNOWN_CONFIG_KEY]
    assert [d.line for d in warnings] == [2, 5] and all(d.severity is Severity.WARNING for d in warnings)
    assert ("srcdir", "'x'") in c.extra and c.libs[0].extra == (("srcdir", "'y'"),)
    assert all(d.message.endswith("did you mean `srcDir`?)") for d in warnings)  # case alone differs
    near = read('name = "p"\ndefaultTarget = ["A"]\nflavour = 1\n').diagnostics
    hints = [d.message for d in near if d.code is Code.UNKNOWN_CONFIG_KEY]
    assert hints == ["unknown key `defaultTarget` (Lake ignores it; did you mean `defaultTargets`?)",
                     "unknown key `flavour` (Lake ignores it)"]  # fmt: skip


def test_exe() -> None:
    (exe,) = read('name = "p"\n[[lean_exe]]\nname = "runLinter"\nsrcDir = "scripts"\nroot = "A.Main"\n').exes
    assert (exe.name, exe.root, exe.src_dir, exe.exe_name) == (
        "runLinter",
        "A.Main",
        PurePosixPath("scripts"),
        "runLinter",
    )
    (exe,) = read('name = "p"\n[[lean_exe]]\nname = "a.b"\n').exes
    assert exe.root == "a.b" and exe.exe_name == "a-b"


def test_requires() -> None:
    c = read(
        'name = "p"\n'
        '[[require]]\nname = "mathlib"\ngit = "https://x/mathlib4"\nrev = "v4.25.0"\n'
        '[[require]]\nname = "Cli"\nscope = "leanprover"\nrev = "main"\n'
        '[[require]]\nname = "foo"\npath = "../foo"\n'
        '[[require]]\nname = "bar"\ngit = {url = "https://x/bar", subDir = "sub"}\n'
        '[[require]]\nname = "baz"\nsource = {type = "path", dir = "vendor/baz"}\n'
    )
    kinds = [(r.name, r.kind, r.url, r.path, r.rev, r.sub_dir, r.scope) for r in c.requires]
    assert kinds == [
        ("mathlib", RequireKind.GIT, "https://x/mathlib4", None, "v4.25.0", None, ""),
        ("Cli", RequireKind.RESERVOIR, None, None, "main", None, "leanprover"),
        ("foo", RequireKind.PATH, None, "../foo", None, None, ""),
        ("bar", RequireKind.GIT, "https://x/bar", None, None, "sub", ""),
        ("baz", RequireKind.PATH, None, "vendor/baz", None, None, ""),
    ]


def test_missing_names_and_duplicate_targets() -> None:
    c = read('[[lean_lib]]\nsrcDir = "x"\n[[lean_lib]]\nname = "A"\n[[lean_lib]]\nname = "A"\n')
    messages = [d.message for d in c.diagnostics]
    assert c.name == "folder"
    assert any("package `name` is required" in m for m in messages)
    assert any("without a `name`" in m for m in messages)
    assert any("declared twice" in m for m in messages)


def test_wrong_types_fall_back_with_a_diagnostic() -> None:
    c = read('name = "p"\nsrcDir = 3\n[[lean_lib]]\nname = "A"\nglobs = 7\n')
    assert c.src_dir == PurePosixPath(".")
    assert len([d for d in c.diagnostics if d.code is Code.LAKEFILE_PARSE_ERROR]) == 2


def test_invalid_toml_is_a_positioned_diagnostic() -> None:
    c = read('name = "p"\n[[lean_lib]\nname = "A"\n')
    (d,) = c.diagnostics
    assert d.code is Code.LAKEFILE_PARSE_ERROR and d.line == 2


def test_glob_strings() -> None:
    assert parse_glob("Foo") == Glob(GlobKind.ONE, "Foo")
    assert parse_glob("Foo.Bar.+") == Glob(GlobKind.SUBMODULES, "Foo.Bar")
    assert parse_glob("Foo.*") == Glob(GlobKind.AND_SUBMODULES, "Foo")
    assert parse_glob("Foo.+junk") == Glob(GlobKind.SUBMODULES, "Foo")
    assert parse_glob("«a b».+") == Glob(GlobKind.SUBMODULES, "«a b»")
    for bad in ("", "Foo.", " Foo", "Foo Bar", "«open"):
        assert isinstance(parse_glob(bad), str), bad
    assert "numeric" in str(parse_glob("A.1"))


def test_glob_semantics() -> None:
    one, sub, both = Glob(GlobKind.ONE, "A"), Glob(GlobKind.SUBMODULES, "A"), Glob(GlobKind.AND_SUBMODULES, "A")
    assert one.matches("A") and not one.matches("A.B")
    assert sub.matches("A.B") and not sub.matches("A") and not sub.matches("AB")
    assert both.matches("A") and both.matches("A.B.C")


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_reader_never_raises(text: str) -> None:
    read(text)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["name", "roots", "globs", "srcDir", "libName", "x"]),
        st.one_of(st.text(max_size=8), st.integers(), st.lists(st.text(max_size=6), max_size=3), st.booleans()),
    )
)
def test_reader_never_raises_on_odd_values(lib: dict[str, object]) -> None:
    import json

    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in lib.items())
    read(f'name = "p"\n[[lean_lib]]\n{body}\n')
