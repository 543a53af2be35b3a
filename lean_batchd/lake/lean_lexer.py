"""A lexer for Lean 4 source, enough to read lakefiles without Lean.

It knows what can hide a keyword (nested `/- -/` comments, `--` comments,
strings with escapes and gaps, raw strings, char literals, `«»` identifiers,
name literals) so that commands are found exactly where Lean finds them.
Errors are values: an unterminated comment or string becomes a diagnostic and
the rest of the file is still tokenised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .names import ID_FIRST, NAME_PATTERN, canonical


class Kind(StrEnum):
    IDENT = "ident"
    STRING = "string"
    CHAR = "char"
    NAME = "name"  # `Foo.Bar or ``Foo
    NUMBER = "number"
    SYMBOL = "symbol"
    DOC = "doc"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    """Source text of the token."""
    value: str
    """Decoded string, canonical name, or the text itself."""
    line: int
    column: int
    offset: int
    first_on_line: bool
    space_before: bool


@dataclass(frozen=True, slots=True)
class LexError:
    message: str
    line: int
    column: int


MAX_ERRORS = 50
_NAME_RE = re.compile(NAME_PATTERN)
_NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SPACE_RE = re.compile(r"[ \t\r\n]+")
_SYMBOLS = sorted(
    [
        ":=",
        "#[",
        "@[",
        "=>",
        "->",
        "<-",
        "<|",
        "|>",
        "++",
        "::",
        "..",
        "!=",
        "==",
        "<=",
        ">=",
        "&&",
        "||",
        "%[",
        "`(",
        "``(",
        "$(",
        "←",
        "→",
        "↦",
        "⟨",
        "⟩",
        "×",
        "∘",
    ],
    key=len,
    reverse=True,
)
_ID_FIRST_RE = re.compile(f"[{ID_FIRST}«]")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.tokens: list[Token] = []
        self.errors: list[LexError] = []
        self.first = True
        self.space = True

    def advance_to(self, j: int) -> None:
        s = self.s
        k = s.count("\n", self.i, j)
        if k:
            self.line += k
            self.line_start = s.rfind("\n", self.i, j) + 1
            self.first = True
        self.i = j

    def error(self, at: int, message: str) -> None:
        """Positions count from the current token's line (errors lie at or after it), and only
        the first `MAX_ERRORS` are kept, so a file of 100,000 bad escapes costs linear time."""
        if len(self.errors) >= MAX_ERRORS:
            return
        if len(self.errors) == MAX_ERRORS - 1:
            message += f" (further lexical errors not reported; {MAX_ERRORS} is the limit)"
        line, line_start = (self.line, self.line_start) if at >= self.line_start else (1, 0)
        line += self.s.count("\n", line_start, at)
        last = self.s.rfind("\n", line_start, at)
        self.errors.append(LexError(message, line, at - (last + 1 if last >= 0 else line_start)))

    def emit(self, kind: Kind, start: int, end: int, value: str | None = None) -> None:
        text = self.s[start:end]
        self.tokens.append(
            Token(
                kind,
                text,
                text if value is None else value,
                self.line,
                start - self.line_start,
                start,
                self.first,
                self.space,
            )
        )
        self.advance_to(end)
        self.first = False
        self.space = False

    def run(self) -> None:
        s = self.s
        while self.i < self.n:
            i = self.i
            c = s[i]
            if c in " \t\r\n":
                self.advance_to(_SPACE_RE.match(s, i).end())  # type: ignore[union-attr]
                self.space = True
            elif s.startswith("--", i):
                end = s.find("\n", i)
                self.advance_to(self.n if end < 0 else end)
                self.space = True
            elif s.startswith(("/--", "/-!"), i):
                self.emit(Kind.DOC, i, self.comment_end(i))
            elif s.startswith("/-", i):
                self.advance_to(self.comment_end(i))
                self.space = True
            elif c == '"':
                end, value = self.string(i + 1)
                self.emit(Kind.STRING, i, end, value)
            elif c == "r" and (raw := re.match(r'r(#*)"', s[i : i + 64])):
                self.raw_string(i, len(raw.group(1)))
            elif c == "'" and self.char(i):
                pass
            elif c == "`":
                self.name_literal(i)
            elif "0" <= c <= "9":
                self.emit(Kind.NUMBER, i, _NUMBER_RE.match(s, i).end())  # type: ignore[union-attr]
            elif (m := _NAME_RE.match(s, i)) is not None:
                self.emit(Kind.IDENT, i, m.end(), canonical(m.group(0)))
            elif c == "«":
                self.error(i, "unterminated `«`")
                self.emit(Kind.SYMBOL, i, i + 1)
            else:
                for sym in _SYMBOLS:
                    if s.startswith(sym, i):
                        self.emit(Kind.SYMBOL, i, i + len(sym))
                        break
                else:
                    self.emit(Kind.SYMBOL, i, i + 1)

    def comment_end(self, start: int) -> int:
        end = nested_comment_end(self.s, start)
        if end is None:
            self.error(start, "unterminated comment")
            return self.n
        return end

    def string(self, i: int) -> tuple[int, str]:
        s = self.s
        out: list[str] = []
        while i < self.n:
            c = s[i]
            if c == '"':
                return i + 1, "".join(out)
            if c == "\\" and i + 1 < self.n:
                e = s[i + 1]
                if e in _ESCAPES:
                    out.append(_ESCAPES[e])
                    i += 2
                elif e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", s[i + 2 : i + 4]):
                    out.append(chr(int(s[i + 2 : i + 4], 16)))
                    i += 4
                elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", s[i + 2 : i + 6]):
                    out.append(chr(int(s[i + 2 : i + 6], 16)))
                    i += 6
                elif e == "\n":
                    i = _SPACE_RE.match(s, i + 1).end()  # type: ignore[union-attr]
                else:
                    self.error(i, f"invalid escape `\\{e}` in string")
                    out.append(e)
                    i += 2
            else:
                out.append(c)
                i += 1
        self.error(i - 1, "unterminated string")
        return self.n, "".join(out)

    def raw_string(self, start: int, hashes: int) -> None:
        body = start + 2 + hashes
        close = '"' + "#" * hashes
        end = self.s.find(close, body)
        if end < 0:
            self.error(start, "unterminated raw string")
            self.emit(Kind.STRING, start, self.n, self.s[body:])
        else:
            self.emit(Kind.STRING, start, end + len(close), self.s[body:end])

    def char(self, i: int) -> bool:
        m = re.match(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^\\'\n])'", self.s[i : i + 10])
        if m is None:
            return False
        self.emit(Kind.CHAR, i, i + m.end())
        return True

    def name_literal(self, i: int) -> None:
        s = self.s
        j = i + 2 if s.startswith("``", i) else i + 1
        m = _NAME_RE.match(s, j)
        if m is None:
            self.emit(Kind.SYMBOL, i, j)
            return
        self.emit(Kind.NAME, i, m.end(), canonical(m.group(0)))


_COMMENT_MARK = re.compile(r"-/|/-")


def nested_comment_end(text: str, start: int) -> int | None:
    """Where the `/- ... -/` comment opening at `start` ends (comments nest), or None if never.

    Scanned left to right, `-/` tried before `/-` at each place, as Lean's
    `finishCommentBlock` does; the regular expression skips plain text in C."""
    depth = 1
    for mark in _COMMENT_MARK.finditer(text, start + 2):
        if mark.group() == "-/":
            depth -= 1
            if depth == 0:
                return mark.end()
        else:
            depth += 1
    return None


def tokenize(text: str) -> tuple[list[Token], list[LexError]]:
    lexer = _Lexer(text)
    lexer.run()
    return lexer.tokens, lexer.errors


def starts_identifier(c: str) -> bool:
    return _ID_FIRST_RE.match(c) is not None
