"""Lean 4 import headers, parsed the way Lean's full parser reads them.

Grammar (`Lean/Parser/Module.lean`):
    header := ["module"] ["prelude"] import*
    import := atomic(["public"] ["meta"] "import") ["all"] moduleIdent
separated by whitespace, `--` comments and nested `/- -/` comments. A doc
comment or any other token ends the header. The common shape (plain imports,
simple comments) is matched by one regular expression per import; anything
else (tabs, nested comments, stray `\\r`, malformed names) goes through the
token-by-token path, which is the reference and always agrees with the fast
one where both apply.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .lean_lexer import nested_comment_end
from .names import (
    ASCII_ID_FIRST,
    ASCII_ID_REST,
    ASCII_NAME_PATTERN,
    ID_FIRST,
    ID_REST,
    KEYWORDS,
    NAME_PATTERN,
    canonical,
)

# Whitespace and comments Lean allows between header tokens, minus the rare
# shapes (tabs, lone `\r`, nested block comments) that only the slow path handles.
_T = r"(?:[ \n]++|\r\n|--[^\n]*+|/-(?![-!])(?:[^/-]++|/(?!-)|-(?!/))*+-/)*+"


def _grammar(id_first: str, id_rest: str, name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The prefix (`module`, `prelude`) and import-group patterns over given identifier classes."""
    kw_end = rf"(?![{id_rest}]|\.[{id_first}«])"
    group = (
        rf"(?:(public){kw_end}{_T})?(?:(meta){kw_end}{_T})?import{kw_end}{_T}"
        rf"(?:(all){kw_end}{_T})?({name})(?![.{id_rest}«]){_T}"
    )
    prefix = rf"{_T}(?:(?P<module>module){kw_end}{_T})?(?:(?P<prelude>prelude){kw_end}{_T})?"
    return re.compile(prefix), re.compile(group)


# Pure-ASCII text (nearly every header) is matched with ASCII classes, which
# Python's engine tests much faster than Lean's Unicode identifier classes.
_PREFIX_RE, _GROUP_RE = _grammar(ID_FIRST, ID_REST, NAME_PATTERN)
_ASCII_PREFIX_RE, _ASCII_GROUP_RE = _grammar(ASCII_ID_FIRST, ASCII_ID_REST, ASCII_NAME_PATTERN)
_TRIVIA_RE = re.compile(_T)
_WORD_RE = re.compile(NAME_PATTERN)
_DOC_RE = re.compile(r"/-[-!](?:[^/-]++|/(?!-)|-(?!/))*+-/" + _T)
_HEADER_WORDS = ("import", "public", "meta", "prelude", "module")

INITIAL_WINDOW = 4096
MARGIN = 64
"""A prefix parse is trusted only when nothing it looked at lies this close to the prefix's end
(a token, a comment or a keyword may be cut there)."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Line 1-based, column 0-based in code points (Lean's convention), byte offset in the file."""

    line: int
    column: int
    offset: int

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column, "offset": self.offset}

    def __reduce__(self) -> tuple[type[Position], tuple[int, int, int]]:
        """Pickled as its constructor call: a stored model loads twice as fast as from dataclass state."""
        return (Position, (self.line, self.column, self.offset))


START = Position(1, 0, 0)


@dataclass(frozen=True, slots=True)
class Import:
    """One `[public] [meta] import [all] M`; where it was written is not part of its identity."""

    module: str
    public: bool = False
    meta: bool = False
    all: bool = False
    offset: int = field(default=0, compare=False, hash=False, repr=False)
    """Character offset of the module name in the header text (`Header.position` turns it into a position)."""

    def key(self) -> tuple[str, bool, bool, bool]:
        return (self.module, self.public, self.meta, self.all)

    def render(self) -> str:
        words = [w for w, on in (("public", self.public), ("meta", self.meta)) if on]
        words.append("import")
        if self.all:
            words.append("all")
        module = f"«{self.module}»" if self.module in KEYWORDS else self.module
        return " ".join([*words, module])

    def to_json(self) -> dict[str, object]:
        return {"module": self.module, "public": self.public, "meta": self.meta, "all": self.all}

    def __reduce__(self) -> tuple[type[Import], tuple[str, bool, bool, bool, int]]:
        """Pickled as its constructor call: a stored model loads twice as fast as from dataclass state."""
        return (Import, (self.module, self.public, self.meta, self.all, self.offset))


@dataclass(frozen=True, slots=True)
class Header:
    is_module: bool
    prelude: bool
    imports: tuple[Import, ...]
    end: Position
    """End of the last header token: the text a worker elaborates starts here."""
    body_start: Position
    """First token after the header (past trailing whitespace and comments)."""
    diagnostics: tuple[Diagnostic, ...] = ()
    text: str = field(default="", compare=False, repr=False)
    """The header's source text (up to `body_start`), to place imports on demand."""
    base: int = field(default=0, compare=False, repr=False)

    def position(self, imp: Import) -> Position:
        """Where `imp`'s module name was written (computed on demand: most imports are never shown)."""
        return _Text(self.text, self.base).position(imp.offset)

    def positions(self) -> tuple[Position, ...]:
        """Where every import was written, in header order, in one pass over the text."""
        t = _Text(self.text, self.base)
        return tuple(t.position(imp.offset) for imp in self.imports)

    def normalized(self) -> tuple[bool, bool, tuple[Import, ...]]:
        """What the environment depends on: keywords and the sorted, de-duplicated imports."""
        return self.is_module, self.prelude, tuple(sorted(set(self.imports), key=Import.key))

    def canonical(self) -> str:
        """A stable text of `normalized()`: comments, spacing and import order do not change it."""
        keys = sorted({(i.module, i.public, i.meta, i.all) for i in self.imports})
        head = ("module\n" if self.is_module else "") + ("prelude\n" if self.prelude else "")
        return head + "".join(
            f"{'public ' if p else ''}{'meta ' if m else ''}import {'all ' if a else ''}{name}\n"
            for name, p, m, a in keys
        )

    def render(self) -> str:
        """Header source text in file order, one import per line."""
        lines = (["module"] if self.is_module else []) + (["prelude"] if self.prelude else [])
        return "\n".join(lines + [i.render() for i in self.imports]) + "\n"

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    def __reduce__(self) -> tuple[type[Header], tuple[object, ...]]:
        """Pickled as its constructor call: a stored model loads twice as fast as from dataclass state."""
        fields = (self.is_module, self.prelude, self.imports, self.end, self.body_start, self.diagnostics)
        return (Header, (*fields, self.text, self.base))


class _Text:
    """The decoded prefix plus position bookkeeping back to bytes of the file.

    Positions are asked for in increasing order while parsing, so lines and
    byte offsets are counted from the previous answer (linear, not quadratic,
    on Mathlib.lean's 8,000-import header).
    """

    def __init__(self, text: str, base: int) -> None:
        self.text = text
        self.base = base
        self.ascii = text.isascii()
        self._pos = 0
        self._line = 1
        self._line_start = 0
        self._byte = 0

    def position(self, pos: int) -> Position:
        """Counted from the previous answer: lines, the line's start and bytes all move forward
        only (one 60,000-import line costs as much as 60,000 lines)."""
        text = self.text
        if pos < self._pos:
            self._pos, self._line, self._line_start, self._byte = 0, 1, 0, 0
        newlines = text.count("\n", self._pos, pos)
        if newlines:
            self._line += newlines
            self._line_start = text.rfind("\n", self._pos, pos) + 1
        offset = pos if self.ascii else self._byte + len(text[self._pos : pos].encode("utf-8"))
        self._pos, self._byte = pos, offset
        return Position(self._line, pos - self._line_start, self.base + offset)


class _Parser:
    def __init__(self, text: _Text, path: str | None, complete: bool = True) -> None:
        self.t = text
        self.s = text.text
        self.n = len(self.s)
        self.path = path
        self.complete = complete
        self.furthest = 0
        """The furthest position the parse depended on."""
        self.diagnostics: list[Diagnostic] = []

    @property
    def incomplete(self) -> bool:
        """Did the parse of a prefix look so near its end that more text could change it?"""
        return not self.complete and self.furthest >= self.n - MARGIN

    def report(self, pos: int, message: str, severity: Severity = Severity.ERROR) -> None:
        p = self.t.position(pos)
        self.diagnostics.append(diagnostic(Code.HEADER_SYNTAX, severity, message, self.path, p.line, p.column))

    def trivia(self, pos: int) -> int:
        pos = self._trivia(pos)
        self.furthest = max(self.furthest, pos)
        return pos

    def _trivia(self, pos: int) -> int:
        s = self.s
        while True:
            pos = _TRIVIA_RE.match(s, pos).end()  # type: ignore[union-attr]
            if pos >= self.n:
                return pos
            c = s[pos]
            if c == "\t":
                self.report(pos, "tabs are not allowed in Lean source; Lean rejects this header")
                pos += 1
            elif c == "\r":
                self.report(pos, "isolated carriage return; Lean rejects this header")
                pos += 1
            elif s.startswith("/-", pos) and not s.startswith(("/--", "/-!"), pos):
                pos = self.nested_comment(pos)
            else:
                return pos

    def nested_comment(self, start: int) -> int:
        end = nested_comment_end(self.s, start)
        if end is None:
            self.report(start, "unterminated comment")
            end = self.n
        self.furthest = max(self.furthest, end)
        return end

    def word(self, pos: int) -> str | None:
        m = _WORD_RE.match(self.s, pos)
        self.furthest = max(self.furthest, m.end() if m else pos + 1)
        return m.group(0) if m else None

    def parse(self) -> Header:
        pos = self.trivia(0)
        end = 0
        is_module = prelude = False
        if self.word(pos) == "module":
            is_module, end = True, pos + 6
            pos = self.trivia(end)
        if self.word(pos) == "prelude":
            prelude, end = True, pos + 7
            pos = self.trivia(end)
        imports: list[Import] = []
        while pos < self.n:
            step = self.import_slowly(pos, is_module)
            if step is None:
                break
            imp, end, pos = step
            if imp is None:
                break
            imports.append(imp)
        self.after_header(end, pos, bool(imports))
        return Header(
            is_module=is_module,
            prelude=prelude,
            imports=tuple(imports),
            end=self.t.position(end),
            body_start=self.t.position(pos),
            diagnostics=tuple(self.diagnostics),
            text=self.s[:pos],
            base=self.t.base,
        )

    def import_slowly(self, pos: int, is_module: bool) -> tuple[Import | None, int, int] | None:
        """One import group token by token; None when the header has ended at `pos`."""
        public = meta = all_ = False
        cur = pos
        if self.word(cur) == "public":
            public, cur = True, self.trivia(cur + 6)
        if self.word(cur) == "meta":
            meta, cur = True, self.trivia(cur + 4)
        if self.word(cur) != "import":
            return None
        cur = self.trivia(cur + 6)
        if self.word(cur) == "all":
            all_, cur = True, self.trivia(cur + 3)
        name = self.word(cur)
        if name is None or (name in KEYWORDS and "." not in name):
            if self.s.startswith("«", cur):
                self.report(cur, "unterminated `«` in module name")
            elif name is None:
                self.report(cur, "expected a module name after `import`")
            else:
                self.report(cur, f"`{name}` is a keyword; write `«{name}»` to import it")
            return None, cur, cur
        name_end = cur + len(name)
        resume = name_end
        if self.s.startswith(".", name_end):
            self.report(name_end, f"trailing `.` after `{name}`; the import ends at `{name}`")
            resume += 1
        imp = Import(
            canonical(name),
            public=public,
            meta=meta,
            all=all_,
            offset=cur,
        )
        return self.checked(imp, is_module, pos), name_end, self.trivia(resume)

    def checked(self, imp: Import, is_module: bool, start: int) -> Import:
        if not is_module and (imp.public or imp.meta or imp.all):
            flags = (("public", imp.public), ("meta", imp.meta), ("all", imp.all))
            used = " / ".join(w for w, on in flags if on)
            self.report(start, f"cannot use `{used}` without `module` at the start of the file")
        if imp.public and imp.all:
            self.report(start, "cannot use `all` with `public import`")
        return imp

    def after_header(self, end: int, pos: int, had_imports: bool) -> None:
        """Diagnose the usual ways a header ends by mistake."""
        s = self.s
        if pos >= self.n:
            return
        if s.startswith(("/--", "/-!"), pos):
            after = self.trivia(self.nested_comment(pos))
            if self.starts_import(after):
                self.report(
                    after,
                    "invalid 'import' command, it must be used in the beginning of the file "
                    "(a doc comment ends the header; move it below the imports)",
                )
            return
        word = self.word(pos)
        if self.starts_import(pos):
            self.report(pos, "invalid 'import' command, it must be used in the beginning of the file")
        elif word is not None and word != "import" and word.startswith(("import", "prelude", "module")):
            self.report(
                pos,
                f"`{word}` ends the header here, but Lake's fast import parser reads it as a keyword "
                "followed by a name; the two disagree",
                Severity.WARNING,
            )
        elif had_imports and self.t.position(pos).line == self.t.position(end).line:
            self.report(pos, "text after an import on the same line: Lean 4 takes one module per `import`")

    def starts_import(self, pos: int) -> bool:
        cur = pos
        for keyword in ("public", "meta"):
            if self.word(cur) == keyword:
                cur = self.trivia(cur + len(keyword))
        return self.word(cur) == "import"


def parse_header_text(text: str, path: str | None = None, base: int = 0) -> Header:
    """Parse a header from a file's whole text (an unsaved editor buffer, a decoded file)."""
    header = _parse(text, path, base, complete=True)
    assert header is not None  # a complete text never needs more
    return header


def _parse(text: str, path: str | None, base: int, complete: bool) -> Header | None:
    """The header of `text`, or None when `text` is a prefix too short to be sure of it."""
    fast = _parse_fast(text, base, complete)
    if fast is not None:
        return fast
    parser = _Parser(_Text(text, base), path, complete)
    header = parser.parse()
    return None if parser.incomplete else header


def parse_header_slowly(text: str, path: str | None = None, base: int = 0) -> Header:
    """The token-by-token reference parser (the fast path must agree with it)."""
    return _Parser(_Text(text, base), path).parse()


def _parse_fast(text: str, base: int, complete: bool = True) -> Header | None:
    """The header by one anchored regular-expression match per import, or None when unusual.

    Unusual means anything the slow path could diagnose: tabs, lone `\r`,
    nested comments, keyword or malformed names, modifiers outside `module`,
    a header word or an import right after the header; or, in a prefix, an
    end of header too near the prefix's end to be sure of. The result then
    has no diagnostics by construction.
    """
    ascii_text = text.isascii()
    prefix_re, group_re = (_ASCII_PREFIX_RE, _ASCII_GROUP_RE) if ascii_text else (_PREFIX_RE, _GROUP_RE)
    m = prefix_re.match(text)
    assert m is not None  # every part is optional
    is_module = m.group("module") is not None
    prelude = m.group("prelude") is not None
    end = m.end("prelude") if prelude else m.end("module") if is_module else 0
    pos = m.end()
    imports: list[Import] = []
    while (g := group_re.match(text, pos)) is not None:
        public, meta, all_, name = g.groups()
        if ((public or meta or all_) and (not is_module or (public and all_))) or name in KEYWORDS:
            return None
        module = name if "«" not in name else canonical(name)
        imports.append(Import(module, bool(public), bool(meta), bool(all_), g.start(4)))
        end = g.end(4)
        pos = g.end()
    if not complete and pos >= len(text) - MARGIN:
        return None
    if pos < len(text):
        c = text[pos]
        if c in "\t\r.«" or not c.isascii():
            return None
        if c == "/":
            if not text.startswith(("/--", "/-!"), pos):
                return None
            doc = _DOC_RE.match(text, pos)
            if doc is None or (not complete and doc.end() >= len(text) - MARGIN):
                return None
            if _starts_header_word(text, doc.end()):
                return None
        elif _starts_header_word(text, pos):
            return None
        if imports and text.find("\n", end, pos) == -1:
            return None
    t = _Text(text, base)
    return Header(is_module, prelude, tuple(imports), t.position(end), t.position(pos), (), text[:pos], base)


def _starts_header_word(text: str, pos: int) -> bool:
    w = _WORD_RE.match(text, pos)
    return w is not None and w.group(0).startswith(_HEADER_WORDS)


def parse_header(
    data: bytes,
    path: str | None = None,
    reload: Callable[[], bytes] | None = None,
    window: int = INITIAL_WINDOW,
) -> Header:
    """Parse the header of a file's bytes, decoding only a bounded prefix.

    The header ends where the first command starts, which a prefix may not
    reach: a header, a comment or a doc comment that runs past the first
    `window` bytes (or ends too near its end to be sure of) is parsed again
    over the whole file, so a 450 KB header (Mathlib.lean) costs what it must,
    an ordinary file costs 4 KB, and stopping early is never mistaken for an
    unterminated comment. When `data` is only the file's first bytes (an
    editor's view, a partial read), `reload` fetches the rest if needed.
    The result equals a parse of the whole file (property-tested).
    """
    base = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    size = window
    while True:
        chunk = data[base : base + size]
        complete = base + size >= len(data) and reload is None
        if chunk.isascii():
            text = chunk.decode("ascii")
        else:  # a prefix may end inside a character: the incremental decoder keeps it back
            text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(chunk, final=complete)
        header = _parse(text, path, base, complete)
        if header is not None:
            break
        if base + size >= len(data) and reload is not None:
            data, reload = reload(), None
        size = len(data)
    notes = []
    if base:
        notes.append(diagnostic(Code.HEADER_SYNTAX, Severity.INFO, "byte order mark skipped", path, 1, 0))
    invalid = _invalid_utf8(data, final=reload is None)
    if invalid is not None:
        notes.append(
            diagnostic(
                Code.HEADER_SYNTAX, Severity.ERROR, f"file is not valid UTF-8 (byte {invalid}); Lean rejects it", path
            )
        )
    return replace(header, diagnostics=tuple(notes) + header.diagnostics) if notes else header


def _invalid_utf8(data: bytes, final: bool) -> int | None:
    """The offset of the first byte that is not UTF-8, anywhere in the file (Lean reads it whole);
    `final` is False for a partial read, whose last character may be cut."""
    if data.isascii():
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError as e:
        return e.start
    return None
