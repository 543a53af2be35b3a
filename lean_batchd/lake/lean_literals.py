"""The literal sub-language of `lakefile.lean`: values whose meaning is fixed without Lean.

Strings, `/` joins, name literals, `#[...]`, `⟨...⟩`, `{ f := ... }`, numbers,
booleans and constructors (`.debug`, `Glob.submodules `A`, `.ofNat 3`) evaluate
to values; any other term is `Dynamic`, carrying its source text for the
diagnostic. The lakefile reader decides what a value means for a field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from .config import BuildType, Glob, GlobKind, OptionValue, normalize_path
from .lean_lexer import Kind, Token

_GLOB_CONSTRUCTORS = {
    "one": GlobKind.ONE,
    "submodules": GlobKind.SUBMODULES,
    "andSubmodules": GlobKind.AND_SUBMODULES,
}
_VALUE_CONSTRUCTORS = frozenset(["ofNat", "ofBool", "ofString"])

MAX_NESTING = 200
"""Brackets nested deeper than this in a value are not read: Lean's own parser stops at its
`maxRecDepth` (512) long before the 50,000 levels a hostile lakefile can hold, and Lake then
loads nothing, so the configuration is unusable rather than half-read."""


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Dynamic:
    text: str


@dataclass(frozen=True, slots=True)
class Ctor:
    """A bare constructor such as `.debug` or `BuildType.debug`."""

    name: str


@dataclass(frozen=True, slots=True)
class Anon:
    """An anonymous constructor `⟨a, b⟩`."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Struct:
    """A structure instance `{ name := a, value := b }`."""

    fields: tuple[tuple[str, Value], ...]


Value = str | bool | int | Name | Glob | PurePosixPath | list["Value"] | Dynamic | Ctor | Anon | Struct


class _TooDeep(Exception):
    """A value nested past `MAX_NESTING` (private: `evaluate` turns it into None)."""


def evaluate(toks: Sequence[Token]) -> Value | None:
    """The value of a whole term (`Dynamic` when it needs Lean), or None when it nests past
    `MAX_NESTING`."""
    try:
        v, i = _Evaluator().term(toks, 0)
    except _TooDeep:
        return None
    if i != len(toks) or not toks:
        return Dynamic(source(toks))
    return v


class _Evaluator:
    def __init__(self) -> None:
        self.depth = 0

    def term(self, toks: Sequence[Token], i: int) -> tuple[Value, int]:
        """A primary, or a `/` join of them (parts joined once: 8,000 parts cost 8,000 steps)."""
        v, i = self.primary(toks, i)
        parts: list[str | PurePosixPath] = []
        while i < len(toks) and toks[i].text == "/" and not isinstance(v, Dynamic):
            right, i = self.primary(toks, i + 1)
            if not isinstance(v, str | PurePosixPath) or not isinstance(right, str | PurePosixPath):
                return Dynamic(source(toks)), len(toks) + 1
            if not parts:
                parts.append(v)
            parts.append(right)
        return (PurePosixPath(*parts), i) if parts else (v, i)

    def primary(self, toks: Sequence[Token], i: int) -> tuple[Value, int]:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _TooDeep
            return self._primary(toks, i)
        finally:
            self.depth -= 1

    def _primary(self, toks: Sequence[Token], i: int) -> tuple[Value, int]:
        if i >= len(toks):
            return Dynamic(""), i + 1
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.kind is Kind.STRING and t.text.startswith(('"', "r")):
            return t.value, i + 1
        if t.kind is Kind.IDENT and t.text in ("true", "false"):
            return t.text == "true", i + 1
        if t.kind is Kind.NAME:
            if (
                nxt is not None
                and nxt.text == "."
                and not nxt.space_before
                and i + 2 < len(toks)
                and toks[i + 2].text in ("+", "*")
                and not toks[i + 2].space_before
            ):
                kind = GlobKind.SUBMODULES if toks[i + 2].text == "+" else GlobKind.AND_SUBMODULES
                return Glob(kind, t.value), i + 3
            return Name(t.value), i + 1
        if t.text == "#[":
            items, i = self.sequence(toks, i + 1, "]")
            return (items, i) if items is not None else (Dynamic(source(toks)), len(toks) + 1)
        if t.text == "(":
            inner, i = self.term(toks, i + 1)
            if i < len(toks) and toks[i].text == ")":
                return inner, i + 1
            return Dynamic(source(toks)), len(toks) + 1
        if t.kind is Kind.NUMBER:
            digits = t.text
            if digits.isascii() and digits.isdigit() and len(digits) <= 1000:
                return int(digits), i + 1
            return Dynamic(source(toks)), len(toks) + 1
        if t.text == "⟨":
            parts, i = self.sequence(toks, i + 1, "⟩")
            return (Anon(tuple(parts)), i) if parts is not None else (Dynamic(source(toks)), len(toks) + 1)
        if t.text == "{":
            return self.structure(toks, i + 1)
        constructor = None
        if t.text == "." and nxt is not None and nxt.kind is Kind.IDENT and not nxt.space_before:
            constructor, after = nxt.text, i + 2
        elif t.kind is Kind.IDENT and t.text.startswith(("Glob.", "BuildType.", "LeanOptionValue.")):
            constructor, after = t.text.split(".", 1)[1], i + 1
        if constructor in _GLOB_CONSTRUCTORS and after < len(toks) and toks[after].kind is Kind.NAME:
            return Glob(_GLOB_CONSTRUCTORS[constructor], toks[after].value), after + 1
        if constructor in _VALUE_CONSTRUCTORS and after < len(toks):
            return self.primary(toks, after)
        if constructor is not None and constructor not in _GLOB_CONSTRUCTORS:
            return Ctor(constructor), after
        return Dynamic(source(toks)), len(toks) + 1

    def sequence(self, toks: Sequence[Token], i: int, close: str) -> tuple[list[Value] | None, int]:
        """Terms separated by `,` up to `close` (None when something else stands between them)."""
        items: list[Value] = []
        while i < len(toks) and toks[i].text != close:
            item, i = self.term(toks, i)
            items.append(item)
            if i < len(toks) and toks[i].text == ",":
                i += 1
            elif i < len(toks) and toks[i].text != close:
                return None, len(toks) + 1
        return items, i + 1

    def structure(self, toks: Sequence[Token], i: int) -> tuple[Value, int]:
        """`{ field := term, ... }` (fields separated by `,`)."""
        fields: list[tuple[str, Value]] = []
        while i + 1 < len(toks) and toks[i].kind is Kind.IDENT and toks[i + 1].text == ":=":
            name = toks[i].text
            item, i = self.term(toks, i + 2)
            fields.append((name, item))
            if i < len(toks) and toks[i].text == ",":
                i += 1
        if i < len(toks) and toks[i].text == "}":
            return Struct(tuple(fields)), i + 1
        return Dynamic(source(toks)), len(toks) + 1


# -- typed fields: a value read as what a Lake field holds (None: it needs Lean) ------------


def as_path(v: Value) -> PurePosixPath | None:
    if isinstance(v, str):
        return normalize_path(v)
    if isinstance(v, PurePosixPath):
        return normalize_path(str(v))
    return None


def as_names(v: Value) -> tuple[str, ...] | None:
    if isinstance(v, list) and all(isinstance(x, Name) for x in v):
        return tuple(x.name for x in v if isinstance(x, Name))
    return None


def as_globs(v: Value) -> tuple[Glob, ...] | None:
    items = v if isinstance(v, list) else [v]
    out: list[Glob] = []
    for x in items:
        if isinstance(x, Glob):
            out.append(x)
        elif isinstance(x, Name):
            out.append(Glob(GlobKind.ONE, x.name))
        else:
            return None
    return tuple(out)


def as_str(v: Value) -> str | None:
    return v if isinstance(v, str) else None


def as_name(v: Value) -> str | None:
    return v.name if isinstance(v, Name) else None


def as_strings(v: Value) -> tuple[str, ...] | None:
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(x for x in v if isinstance(x, str))
    return None


def as_build_type(v: Value) -> BuildType | None:
    return BuildType(v.name) if isinstance(v, Ctor) and v.name in BuildType._value2member_map_ else None


def as_options(v: Value) -> tuple[tuple[str, OptionValue], ...] | None:
    """`#[⟨`name, value⟩, { name := `n, value := v }, ...]` with literal values (Lake's
    `Array LeanOption`; a value is a Bool, a Nat or a String, `.ofNat 3` and the like included)."""
    if not isinstance(v, list):
        return None
    out: list[tuple[str, OptionValue]] = []
    for item in v:
        if isinstance(item, Anon) and len(item.items) == 2:
            name, value = item.items
        elif isinstance(item, Struct) and sorted(k for k, _ in item.fields) == ["name", "value"]:
            fields = dict(item.fields)
            name, value = fields["name"], fields["value"]
        else:
            return None
        if not isinstance(name, Name) or not isinstance(value, bool | int | str):
            return None
        out.append((name.name, value))
    return tuple(out)


def source(toks: Sequence[Token]) -> str:
    """The tokens' text as written (one space where there was any)."""
    return "".join((" " if t.space_before and k else "") + t.text for k, t in enumerate(toks))


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
