"""Lean names, and fingerprints that see every change."""

from __future__ import annotations

from lean_batchd.lake.config import mangle_lib_name
from lean_batchd.lake.fingerprint import SourceSetDigest
from lean_batchd.lake.names import (
    canonical,
    component_problem,
    components,
    escape_part,
    is_identifier,
    is_prefix,
    legal_or_simple,
    module_from_relpath,
    module_relpath,
    parse_name,
)


def test_identifier_characters() -> None:
    for ok in ("Foo", "_x", "α₁", "ℕat", "x'", "a!?", "Ærø", "𝔽"):
        assert is_identifier(ok), ok
    for bad in ("1x", "λ", "Π", "a-b", "", "x y", "·"):
        assert not is_identifier(bad), bad


def test_escapes_round_trip() -> None:
    assert escape_part("Foo-Bar") == "«Foo-Bar»" and escape_part("ok") == "ok"
    assert parse_name("«A.B».C") == ("A.B", "C")
    assert components("«A.B».C") == ("A.B", "C") and components("A.B") == ("A", "B")
    assert canonical("«Foo».«Bar-x»") == "Foo.«Bar-x»"
    assert parse_name("A..B") is None and parse_name("A.") is None


def test_lake_string_names() -> None:
    assert legal_or_simple("Foo.Bar") == ("Foo", "Bar")
    assert legal_or_simple("my-lib") == ("my-lib",)
    assert legal_or_simple("«doc-gen4»") == ("doc-gen4",)


def test_files_and_modules() -> None:
    assert str(module_relpath("A.«b.c».D")) == "A/b.c/D.lean"
    assert module_from_relpath(("A", "b-c", "D.lean")) == "A.«b-c».D"
    assert is_prefix("A", "A.B") and is_prefix("A", "A") and not is_prefix("A", "AB")
    assert component_problem(".#x") and component_problem("a»b") and component_problem("ok") is None


def test_mangled_library_names() -> None:
    assert mangle_lib_name(("Mathlib",)) == "Mathlib"
    assert mangle_lib_name(("A", "B_c")) == "A_B__c"
    assert mangle_lib_name(("foo.bar",)) == "foo_x2ebar"
    assert mangle_lib_name(("ℕ",)) == "_u2115"


def test_source_set_digest_is_order_free_and_sees_renames() -> None:
    a, b = SourceSetDigest(), SourceSetDigest()
    a.add("A", "A.lean", "1")
    a.add("B", "B.lean", "2")
    b.add("B", "B.lean", "2")
    b.add("A", "A.lean", "1")
    assert a.hexdigest() == b.hexdigest()
    b.remove("A", "A.lean", "1")
    b.add("A", "A2.lean", "1")
    assert a.hexdigest() != b.hexdigest()
    b.remove("A", "A2.lean", "1")
    b.add("A", "A.lean", "1")
    assert a.hexdigest() == b.hexdigest()
    c = SourceSetDigest()
    c.add("A", "A.lean", "1")
    assert c.hexdigest() != a.hexdigest()
