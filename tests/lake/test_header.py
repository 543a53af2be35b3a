"""Import headers, parsed as Lean's full parser reads them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_batchd.lake import Code, Severity
from lean_batchd.lake.header import Import, parse_header, parse_header_slowly, parse_header_text
from lean_batchd.lake.names import canonical


def imports(text: str) -> list[str]:
    return [i.render() for i in parse_header_text(text).imports]


def codes(text: str) -> list[str]:
    return [d.message for d in parse_header_text(text, "f.lean").diagnostics]


def test_plain_imports_and_where_the_header_ends() -> None:
    h = parse_header_text("import A\nimport B.C\n\ndef x := 1\n")
    assert [i.module for i in h.imports] == ["A", "B.C"]
    assert (h.end.line, h.end.column, h.end.offset) == (2, 10, 19)
    assert (h.body_start.line, h.body_start.column) == (4, 0)
    assert h.diagnostics == ()


def test_module_system_keywords_and_modifiers() -> None:
    h = parse_header_text("module\npublic import A\nmeta import B\npublic meta import C\nimport all D\n")
    assert h.is_module and not h.prelude
    assert [(i.module, i.public, i.meta, i.all) for i in h.imports] == [
        ("A", True, False, False),
        ("B", False, True, False),
        ("C", True, True, False),
        ("D", False, False, True),
    ]


def test_prelude() -> None:
    h = parse_header_text("prelude\nimport Init.Core\n")
    assert h.prelude and [i.module for i in h.imports] == ["Init.Core"]


def test_comments_between_tokens_including_nested_blocks() -> None:
    text = "/- a /- nested -/ still comment import X -/\n-- import Y\nimport /- c -/ A -- trailing\nimport\n  B\n"
    assert imports(text) == ["import A", "import B"]


def test_doc_comment_ends_the_header_and_a_later_import_is_an_error() -> None:
    h = parse_header_text("import A\n/-! # Docs -/\nimport B\n", "f.lean")
    assert [i.module for i in h.imports] == ["A"]
    assert h.body_start.line == 2
    (d,) = h.diagnostics
    assert d.code is Code.HEADER_SYNTAX and d.severity is Severity.ERROR and d.line == 3
    assert "beginning of the file" in d.message


def test_module_doc_before_imports_ends_the_header_at_once() -> None:
    h = parse_header_text("/-! doc -/\nimport A\n")
    assert h.imports == () and not h.ok


def test_other_commands_end_the_header() -> None:
    assert imports("import A\nset_option x true\nimport B\n") == ["import A"]
    assert imports("import A\nopen Nat\n") == ["import A"]


def test_one_module_per_import_lean3_style_is_diagnosed() -> None:
    h = parse_header_text("import A B\n", "f.lean")
    assert [i.module for i in h.imports] == ["A"]
    assert "one module per `import`" in h.diagnostics[0].message


def test_modifier_order_is_fixed() -> None:
    h = parse_header_text("module\nmeta public import A\n")
    assert h.imports == ()


def test_modifiers_need_module() -> None:
    (d,) = parse_header_text("public import A\n", "f.lean").diagnostics
    assert "without `module`" in d.message and d.line == 1 and d.column == 0


def test_all_with_public_is_an_error() -> None:
    assert any("`all` with `public import`" in m for m in codes("module\npublic import all A\n"))


def test_escaped_and_unicode_names() -> None:
    h = parse_header_text("import «Foo-Bar».Baz\nimport α₁.ℕ\nimport «A.B»\nimport Foo'.x!?\n")
    assert [i.module for i in h.imports] == ["«Foo-Bar».Baz", "α₁.ℕ", "«A.B»", "Foo'.x!?"]


def test_needless_escapes_are_canonicalised() -> None:
    assert [i.module for i in parse_header_text("import «Foo».Bar\n").imports] == ["Foo.Bar"]


def test_keyword_name_needs_escape() -> None:
    h = parse_header_text("import end\n", "f.lean")
    assert h.imports == () and "keyword" in h.diagnostics[0].message
    escaped = parse_header_text("import «end»\n")
    assert [i.module for i in escaped.imports] == ["end"]  # Name.toString does not escape keywords
    assert escaped.render() == "import «end»\n"  # but header text must


def test_trailing_dot() -> None:
    h = parse_header_text("import Foo.\n", "f.lean")
    assert [i.module for i in h.imports] == ["Foo"]
    assert len(h.diagnostics) == 1 and "trailing" in h.diagnostics[0].message


def test_tabs_and_lone_carriage_returns_are_positioned_errors() -> None:
    h = parse_header_text("import A\n\timport B\n", "f.lean")
    assert [i.module for i in h.imports] == ["A", "B"]
    (d,) = h.diagnostics
    assert (d.line, d.column) == (2, 0) and "tabs" in d.message
    h = parse_header_text("import A\rimport B\n", "f.lean")
    assert any("carriage return" in d.message for d in h.diagnostics)


def test_tab_inside_comment_is_fine() -> None:
    assert parse_header_text("/-\tcomment -/\nimport A\n").diagnostics == ()


def test_crlf_and_bom() -> None:
    h = parse_header(b"\xef\xbb\xbfimport A\r\nimport B\r\n\r\ndef x := 1\r\n", "f.lean")
    assert [i.module for i in h.imports] == ["A", "B"]
    assert h.end.offset == len(b"\xef\xbb\xbfimport A\r\nimport B")
    assert [d.severity for d in h.diagnostics] == [Severity.INFO]


def test_unterminated_comment_and_escape() -> None:
    assert "unterminated comment" in codes("import A /- never closed")[0]
    assert "unterminated" in codes("import «Foo")[0]


def test_fast_parser_disagreement_is_a_warning() -> None:
    h = parse_header_text("importFoo\n", "f.lean")
    assert h.imports == ()
    assert h.diagnostics[0].severity is Severity.WARNING and "fast import parser" in h.diagnostics[0].message


def test_non_utf8_is_an_error() -> None:
    h = parse_header(b"import A\n\xff\xfe\n", "f.lean")
    assert [i.module for i in h.imports] == ["A"] and not h.ok


def test_long_header_grows_the_window() -> None:
    text = "module\n" + "".join(f"public import M{i}.Sub\n" for i in range(3000)) + "\ndef x := 1\n"
    h = parse_header(text.encode())
    assert len(h.imports) == 3000 and h.end.line == 3001


def test_non_ascii_offsets_are_bytes_and_columns_code_points() -> None:
    h = parse_header("import ℕat\nimport B\n".encode())
    assert h.end.offset == len("import ℕat\nimport B".encode())
    assert h.position(h.imports[1]).column == 7
    assert h.position(h.imports[0]).offset == 7


def test_normalised_header_ignores_order_duplicates_and_comments() -> None:
    a = parse_header_text("import B\nimport A -- c\nimport A\n")
    b = parse_header_text("/- x -/ import A\nimport B\n")
    assert a.canonical() == b.canonical()
    assert a.canonical() != parse_header_text("module\nimport A\nimport B\n").canonical()


def test_a_module_doc_closing_past_the_first_4_kb_is_no_error() -> None:
    """Issue 19: the header ends where the first command starts; a prefix that stops inside the
    module doc after it must read on, never report the doc as unterminated."""
    doc = "/-!\n# Notes\n" + "".join(f"Line {i} of a long module docstring, as FLT has.\n" for i in range(90)) + "-/\n"
    data = ("import Mathlib.Data.Nat.Basic\n\n" + doc + "\ntheorem t : True := trivial\n").encode()
    assert 4096 < len(data) < 4700
    h = parse_header(data, "f.lean")
    assert [i.module for i in h.imports] == ["Mathlib.Data.Nat.Basic"] and h.diagnostics == ()
    assert h.body_start.line == 3
    comment = ("import A\n/- " + "x" * 5000 + " -/\ndef y := 1\n").encode()
    assert parse_header(comment, "f.lean").diagnostics == ()
    late_import = ("import A\n" + doc + "import B\n").encode()
    (d,) = parse_header(late_import, "f.lean").diagnostics
    assert "doc comment ends the header" in d.message and d.line == late_import.count(b"\n")


def test_partial_reads_reload_when_the_header_is_longer() -> None:
    whole = ("".join(f"import M{i}\n" for i in range(800)) + "def x := 1\n").encode()
    h = parse_header(whole[:4096], reload=lambda: whole)
    assert len(h.imports) == 800


# -- properties -------------------------------------------------------------------

_idents = st.from_regex(r"[A-Za-zα-κ_][A-Za-z0-9_'!?₀-₉]{0,6}", fullmatch=True).filter(
    lambda s: s not in ("import", "public", "meta", "all", "module", "prelude", "end", "open", "def", "in", "at")
)
_parts = st.one_of(_idents, st.from_regex(r"«[a-z\- .0-9]{1,5}»", fullmatch=True))
_names = st.lists(_parts, min_size=1, max_size=4).map(lambda ps: canonical(".".join(ps)))
_trivia = st.sampled_from([" ", "\n", "  \n", " -- note\n", " /- c -/ ", "\n/- a /- nested -/ -/\n", "\r\n"])


@st.composite
def _headers(draw: st.DrawFn) -> tuple[str, bool, bool, list[Import]]:
    is_module = draw(st.booleans())
    prelude = draw(st.booleans())
    imps = []
    for name in draw(st.lists(_names, max_size=6)):
        public = is_module and draw(st.booleans())
        meta = is_module and draw(st.booleans())
        all_ = is_module and not public and draw(st.booleans())
        imps.append(Import(name, public, meta, all_))
    text = draw(_trivia)
    if is_module:
        text += "module" + draw(_trivia)
    if prelude:
        text += "prelude" + draw(_trivia)
    for imp in imps:
        words = (["public"] if imp.public else []) + (["meta"] if imp.meta else []) + ["import"]
        words += ["all"] if imp.all else []
        for w in words:
            text += w + draw(_trivia)
        text += imp.render().removeprefix(" ".join(words) + " ") + "\n" + draw(_trivia)
    text += draw(st.sampled_from(["", "def x := 1\n", "/-! doc -/\n", "theorem t : True := trivial"]))
    return text, is_module, prelude, imps


@settings(max_examples=300)
@given(_headers())
def test_rendered_headers_parse_back(case: tuple[str, bool, bool, list[Import]]) -> None:
    text, is_module, prelude, imps = case
    h = parse_header_text(text)
    assert (h.is_module, h.prelude, list(h.imports)) == (is_module, prelude, imps)
    assert h.ok
    again = parse_header_text(h.render())
    assert (again.is_module, again.prelude, again.imports) == (h.is_module, h.prelude, h.imports)


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list("import public meta all module prelude AB.«»-/!\t\r\n ")), max_size=80))
def test_parser_never_raises_and_fast_agrees_with_slow(text: str) -> None:
    fast = parse_header_text(text, "f.lean")
    slow = parse_header_slowly(text, "f.lean")
    assert (fast.is_module, fast.prelude, fast.imports, fast.end, fast.body_start) == (
        slow.is_module,
        slow.prelude,
        slow.imports,
        slow.end,
        slow.body_start,
    )
    assert fast.diagnostics == slow.diagnostics
    assert [fast.position(i) for i in fast.imports] == [slow.position(i) for i in slow.imports]


_fill = st.text(alphabet=st.sampled_from(list("ab ℕ\n-/!import")), max_size=300)


@st.composite
def _files(draw: st.DrawFn) -> str:
    """A header, then comments, doc comments and code of any length around the window's end."""
    text, _, _, _ = draw(_headers())
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["/-", "/-!", "/--", "--", "", "import A\n"]))
        body = draw(_fill)
        text += kind + body + ("-/" if kind.startswith("/-") and draw(st.booleans()) else "") + "\n"
    return text


@settings(max_examples=600)
@given(_files(), st.integers(1, 400))
def test_a_prefix_read_equals_a_whole_read(text: str, window: int) -> None:
    data = text.encode()
    prefix = parse_header(data, "f.lean", window=window)
    whole = parse_header(data, "f.lean", window=len(data) + 1)
    assert prefix == whole and prefix.diagnostics == whole.diagnostics
    assert prefix.positions() == whole.positions()


@settings(max_examples=300)
@given(st.binary(max_size=200), st.integers(1, 64))
def test_bytes_prefix_equals_whole(data: bytes, window: int) -> None:
    prefix = parse_header(data, "f.lean", window=window)
    assert prefix == parse_header(data, "f.lean", window=len(data) + 1)
    assert prefix.diagnostics == parse_header(data, "f.lean", window=len(data) + 1).diagnostics


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_bytes_never_raise(data: bytes) -> None:
    parse_header(data, "f.lean")


@pytest.mark.parametrize("bad", ["import", "import ", "public", "module module", "import «", "import A.«b"])
def test_truncated_headers_do_not_raise(bad: str) -> None:
    parse_header_text(bad, "f.lean")
