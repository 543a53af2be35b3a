"""Fuzzing the readers that take outside input (issue 13): lakefile.toml, lakefile.lean,
lake-manifest.json, lean-toolchain and import headers.

The property, for any input: a value (with typed diagnostics), never an exception, within a time
bound proportional to the input (a generous one: it catches hangs and blow-ups, not slowness),
and with memory bounded by a multiple of the input.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.lake.config import PackageConfig
from lean_batchd.lake.header import Header, parse_header
from lean_batchd.lake.lakefile_lean import read_lean_config
from lean_batchd.lake.lakefile_toml import read_toml_config
from lean_batchd.lake.manifest import manifest_from_text
from lean_batchd.lake.toolchain import Toolchain, toolchain_from_text

T = TypeVar("T")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bounded(read: Callable[[], T], size: int) -> T:
    """Run a reader; fail if it took more than 1 s + 100 µs per input byte, or allocated more
    than 4 MB + 2 KB per input byte at its peak."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        out = read()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0 + 1e-4 * size, f"{elapsed:.2f} s for {size} bytes"
    assert peak < 4_000_000 + 2_000 * size, f"{peak} bytes at peak for {size} bytes"
    return out


# -- lakefile.toml --------------------------------------------------------------------

_scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "name",
        "srcDir",
        "roots",
        "globs",
        "libName",
        "leanOptions",
        "moreLeanArgs",
        "weakLeanArgs",
        "buildType",
        "root",
        "x",
    ]
)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if v == v and abs(v) != float("inf") else "0"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


@st.composite
def _lakefiles_toml(draw: st.DrawFn) -> str:
    out = [f"{k} = {_toml_value(draw(_values))}\n" for k in draw(st.lists(_keys, max_size=4, unique=True))]
    for table in draw(st.lists(st.sampled_from(["lean_lib", "lean_exe", "require"]), max_size=3)):
        out.append(f"[[{table}]]\n")
        out.extend(f"{k} = {_toml_value(draw(_values))}\n" for k in draw(st.lists(_keys, max_size=5, unique=True)))
    return "".join(out)


@FUZZ
@given(st.one_of(_lakefiles_toml(), st.text(alphabet=st.sampled_from(list("[]{}=\"'=.,\n abc1\\#")), max_size=300)))
def test_lakefile_toml(text: str) -> None:
    config = bounded(lambda: read_toml_config(text, "lakefile.toml", "p"), len(text))
    assert isinstance(config, PackageConfig)


# -- lakefile.lean --------------------------------------------------------------------

_lean_tokens = st.sampled_from(
    [
        "package", "lean_lib", "lean_exe", "require", "where", ":=", "#[", "[", "]", "(", ")", "{", "}", "⟨",
        "⟩", ",", ";", "/", "`Foo", "`A.«b c»", '"src"', '"a\\q"', "r#\"x\"#", ".submodules", ".andSubmodules",
        "Glob.one", "`X.+", "true", "false", "3", "12345678901234567890", "srcDir", "roots", "globs",
        "leanOptions", "moreLeanArgs", "buildType", ".debug", '"-DautoImplicit=false"', "/-", "-/", "--", "\n",
        "\n  ", "@[default_target]", "meta if", "then", "else", "def", "from", "git", "@", "with", "«", "'c'",
    ]
)  # fmt: skip


@FUZZ
@given(st.one_of(st.lists(_lean_tokens, max_size=80).map(" ".join), st.text(max_size=300)))
def test_lakefile_lean(text: str) -> None:
    config = bounded(lambda: read_lean_config(text, "lakefile.lean", "p"), len(text))
    assert isinstance(config, PackageConfig)


# -- lake-manifest.json, lean-toolchain, headers -----------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
_manifest_like = st.fixed_dictionaries(
    {"version": st.one_of(st.integers(-2, 9), st.sampled_from(["1.1.0", "1.2.0", "2.0.0", "x"])), "packages": _json},
    optional={"packagesDir": _json, "name": _json},
)


@FUZZ
@given(st.one_of(_manifest_like.map(json.dumps), _json.map(json.dumps), st.text(max_size=200)))
def test_lake_manifest_json(text: str) -> None:
    manifest, notes = bounded(lambda: manifest_from_text(text, "lake-manifest.json"), len(text))
    assert manifest is not None or any(n.code == "manifest-error" and n.severity == "error" for n in notes)


@FUZZ
@given(st.text(max_size=300))
def test_lean_toolchain(text: str) -> None:
    assert isinstance(bounded(lambda: toolchain_from_text(text), len(text)), Toolchain)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=400),
        st.text(alphabet=st.sampled_from(list("import A.«»/-!\n\t\r ℕ")), max_size=400).map(str.encode),
    )
)
def test_import_header(data: bytes) -> None:
    assert isinstance(bounded(lambda: parse_header(data, "f.lean", window=64), len(data)), Header)


# -- adversarial shapes at scale ------------------------------------------------------------


_BAD_ESCAPES = 'package p\nlean_lib A where\n  srcDir := "' + "\\q" * 50_000 + '"\n'
_BRACKETS = "package p\nlean_lib A where\n  roots := " + "#[" * 100_000
_TABLES = "".join(f"[[lean_lib]]\nname = 'L{i}'\nglobs = ['L{i}.+']\n" for i in range(5_000))
_DEEP_JSON = "[" * 200_000
_COMMENTS = ("/-" * 100_000).encode()
_LARGE: dict[str, tuple[Callable[[], object], int]] = {
    "lakefile.lean with 50,000 bad escapes": (lambda: read_lean_config(_BAD_ESCAPES, "l", "p"), len(_BAD_ESCAPES)),
    "lakefile.lean with 100,000 open brackets": (lambda: read_lean_config(_BRACKETS, "l", "p"), len(_BRACKETS)),
    "lakefile.toml with 5,000 libraries": (lambda: read_toml_config(_TABLES, "l", "p"), len(_TABLES)),
    "manifest with 200,000 open arrays": (lambda: manifest_from_text(_DEEP_JSON, "m"), len(_DEEP_JSON)),
    "header of 100,000 nested comment openers": (lambda: parse_header(_COMMENTS, "f"), len(_COMMENTS)),
}


@pytest.mark.parametrize("case", sorted(_LARGE))
def test_large_adversarial_inputs_stay_within_their_bounds(case: str) -> None:
    read, size = _LARGE[case]
    bounded(read, size)
