"""`lakefile.lean`, read statically: the literal sub-language of Lake's DSL, nothing more.

Lake elaborates the lakefile as Lean code. We cannot, so we read exactly the
forms whose meaning is fixed (strings, `/` joins, name literals, `#[...]`,
glob constructors) and diagnose everything else as `dynamic-config`, naming
the field and line, falling back to Lake's default for that field and marking
the target. Nothing is guessed silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TypeVar, cast

from .config import (
    DEFAULT_BUILD_DIR,
    EXE_KEYS,
    HERE,
    LEGACY_PACKAGE_KEYS,
    LIB_KEYS,
    PACKAGE_KEYS,
    BuildType,
    ConfigKind,
    Glob,
    GlobKind,
    LeanConfig,
    LeanExe,
    LeanLib,
    OptionValue,
    PackageConfig,
    Require,
    RequireKind,
    default_globs,
    mangle_lib_name,
    normalize_path,
)
from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .lean_lexer import Kind, Token, tokenize
from .names import NAME_PATTERN, components, legal_or_simple, render

COMMAND_KEYWORDS = frozenset(
    [
        "package",
        "require",
        "lean_lib",
        "lean_exe",
        "input_file",
        "input_dir",
        "target",
        "extern_lib",
        "script",
        "module_facet",
        "package_facet",
        "library_facet",
        "post_update",
        "meta",
        "def",
        "abbrev",
        "open",
        "import",
        "theorem",
        "instance",
        "namespace",
        "end",
        "section",
        "set_option",
        "attribute",
        "macro",
        "syntax",
        "elab",
        "macro_rules",
        "variable",
        "universe",
        "local",
        "private",
        "protected",
        "noncomputable",
        "partial",
        "unsafe",
        "initialization",
        "example",
        "structure",
        "inductive",
        "class",
        "declare_syntax_cat",
        "notation",
        "infix",
        "infixl",
        "infixr",
        "prefix",
        "postfix",
        "opaque",
        "axiom",
        "mutual",
        "deriving",
        "export",
    ]
)
_TARGET_COMMANDS = frozenset(
    [
        "input_file",
        "input_dir",
        "target",
        "extern_lib",
        "script",
        "module_facet",
        "package_facet",
        "library_facet",
        "post_update",
    ]
)
_GLOB_CONSTRUCTORS = {
    "one": GlobKind.ONE,
    "submodules": GlobKind.SUBMODULES,
    "andSubmodules": GlobKind.AND_SUBMODULES,
}


@dataclass(frozen=True, slots=True)
class _Name:
    name: str


@dataclass(frozen=True, slots=True)
class _Dynamic:
    text: str


@dataclass(frozen=True, slots=True)
class _Ctor:
    """A bare constructor such as `.debug` or `BuildType.debug`."""

    name: str


@dataclass(frozen=True, slots=True)
class _Anon:
    """An anonymous constructor `⟨a, b⟩`."""

    items: tuple[_Value, ...]


@dataclass(frozen=True, slots=True)
class _Struct:
    """A structure instance `{ name := a, value := b }`."""

    fields: tuple[tuple[str, _Value], ...]


_Value = str | bool | int | _Name | Glob | PurePosixPath | list["_Value"] | _Dynamic | _Ctor | _Anon | _Struct
_VALUE_CONSTRUCTORS = frozenset(["ofNat", "ofBool", "ofString"])
_LEAN_CONFIG_FIELDS = frozenset(["leanOptions", "moreLeanArgs", "weakLeanArgs", "buildType"])


def _split_units(tokens: list[Token]) -> list[list[Token]]:
    """Top-level commands: a command keyword, `@[`, a doc comment or anything at column 0
    (other than a `field :=` line) starts one when it opens a line outside brackets."""
    units: list[list[Token]] = []
    depth = 0
    for k, t in enumerate(tokens):
        starts = False
        if depth == 0 and t.first_on_line:
            nxt = tokens[k + 1] if k + 1 < len(tokens) else None
            is_field = t.kind is Kind.IDENT and nxt is not None and nxt.text == ":="
            starts = (
                (t.kind is Kind.IDENT and t.text in COMMAND_KEYWORDS)
                or t.kind is Kind.DOC
                or t.text in ("@[", "#", "else")
                or (t.column == 0 and not is_field and t.text not in ("then", "do"))
            )
        if starts and not (units and _only_prefix(units[-1])):
            units.append([])
        if not units:
            units.append([])
        units[-1].append(t)
        if t.text in ("(", "[", "{", "#[", "@[", "⟨", "%[", "`(", "``(", "$("):
            depth += 1
        elif t.text in (")", "]", "}", "⟩") and depth > 0:
            depth -= 1
    return _absorb_meta_if(units)


def _only_prefix(unit: list[Token]) -> bool:
    depth = 0
    for t in unit:
        if depth == 0 and t.kind is not Kind.DOC and t.text != "@[":
            return False
        if t.text == "@[":
            depth += 1
        elif t.text == "]":
            depth -= 1
    return True


def _absorb_meta_if(units: list[list[Token]]) -> list[list[Token]]:
    """`meta if c then cmd [else cmd]` (a branch may be a `do` block) becomes one unit."""
    out: list[list[Token]] = []
    i = 0
    while i < len(units):
        unit = units[i]
        i += 1
        if [t.text for t in unit[:2]] != ["meta", "if"]:
            out.append(unit)
            continue
        merged = list(unit)
        column = unit[0].column
        i = _absorb_branch(merged, units, i, column, unit)
        if i < len(units) and units[i][0].text == "else":
            opener = units[i]
            merged.extend(opener)
            i = _absorb_branch(merged, units, i + 1, column, opener)
        out.append(merged)
    return out


def _absorb_branch(merged: list[Token], units: list[list[Token]], i: int, column: int, opener: list[Token]) -> int:
    tail = opener[-1].text
    if tail == "do":
        while i < len(units) and units[i][0].column > column and units[i][0].text != "else":
            merged.extend(units[i])
            i += 1
    elif tail in ("then", "else") and i < len(units) and units[i][0].text != "else":
        merged.extend(units[i])
        i += 1
    return i


_WORD_RE = re.compile(NAME_PATTERN)
MAX_NESTING = 200
"""Brackets nested deeper than this in a value are not read: Lean's own parser stops at its
`maxRecDepth` (512) long before the 50,000 levels a hostile lakefile can hold, and Lake then
loads nothing, so the configuration is unusable rather than half-read."""


class _TooDeep(Exception):
    """A value nested past `MAX_NESTING` (private: `value` turns it into a diagnostic)."""


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.defs: dict[str, int] = {}
        self.depth = 0
        self.usable = True

    def report(self, code: Code, severity: Severity, message: str, at: Token | None) -> None:
        self.diagnostics.append(
            diagnostic(code, severity, message, self.path, at.line if at else None, at.column if at else None)
        )

    def dynamic(self, owner: str, field: str, value: _Dynamic, at: Token, used: bool) -> None:
        words = (w for w in _WORD_RE.findall(value.text) if w in self.defs)
        ref = next((f" (it refers to `{d}`, defined on line {self.defs[d]})" for d in words), "")
        if used and field in _LEAN_CONFIG_FIELDS:
            message = (
                f"{owner}: `{field} := {_short(value.text)}` needs Lean to evaluate{ref}; "
                "sessions will not apply these options (Lake's default is used), so elaboration may differ "
                "from `lake build`"
            )
        elif used:
            message = (
                f"{owner}: `{field} := {_short(value.text)}` needs Lean to evaluate{ref}; "
                f"using Lake's default for `{field}`"
            )
        else:
            message = f"{owner}: `{field}` needs Lean to evaluate{ref}; not needed for discovery, ignored"
        self.report(Code.DYNAMIC_CONFIG, Severity.WARNING if used else Severity.INFO, message, at)

    # -- values -------------------------------------------------------------

    def value(self, toks: Sequence[Token]) -> _Value:
        self.depth = 0
        try:
            v, i = self.term(toks, 0)
        except _TooDeep:
            self.usable = False
            self.report(
                Code.LAKEFILE_PARSE_ERROR,
                Severity.ERROR,
                f"brackets nested more than {MAX_NESTING} deep; Lean's parser gives up long before "
                "(maximum recursion depth), so Lake would load nothing",
                toks[0],
            )
            return _Dynamic(_short(_source(toks[:20])))
        if i != len(toks) or not toks:
            return _Dynamic(_source(toks))
        return v

    def term(self, toks: Sequence[Token], i: int) -> tuple[_Value, int]:
        """A primary, or a `/` join of them (parts joined once: 8,000 parts cost 8,000 steps)."""
        v, i = self.primary(toks, i)
        parts: list[str | PurePosixPath] = []
        while i < len(toks) and toks[i].text == "/" and not isinstance(v, _Dynamic):
            right, i = self.primary(toks, i + 1)
            if not isinstance(v, str | PurePosixPath) or not isinstance(right, str | PurePosixPath):
                return _Dynamic(_source(toks)), len(toks) + 1
            if not parts:
                parts.append(v)
            parts.append(right)
        return (PurePosixPath(*parts), i) if parts else (v, i)

    def primary(self, toks: Sequence[Token], i: int) -> tuple[_Value, int]:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _TooDeep
            return self._primary(toks, i)
        finally:
            self.depth -= 1

    def _primary(self, toks: Sequence[Token], i: int) -> tuple[_Value, int]:
        if i >= len(toks):
            return _Dynamic(""), i + 1
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
            return _Name(t.value), i + 1
        if t.text == "#[":
            items, i = self.sequence(toks, i + 1, "]")
            return (items, i) if items is not None else (_Dynamic(_source(toks)), len(toks) + 1)
        if t.text == "(":
            inner, i = self.term(toks, i + 1)
            if i < len(toks) and toks[i].text == ")":
                return inner, i + 1
            return _Dynamic(_source(toks)), len(toks) + 1
        if t.kind is Kind.NUMBER:
            digits = t.text
            if digits.isascii() and digits.isdigit() and len(digits) <= 1000:
                return int(digits), i + 1
            return _Dynamic(_source(toks)), len(toks) + 1
        if t.text == "⟨":
            parts, i = self.sequence(toks, i + 1, "⟩")
            return (_Anon(tuple(parts)), i) if parts is not None else (_Dynamic(_source(toks)), len(toks) + 1)
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
            return _Ctor(constructor), after
        return _Dynamic(_source(toks)), len(toks) + 1

    def sequence(self, toks: Sequence[Token], i: int, close: str) -> tuple[list[_Value] | None, int]:
        """Terms separated by `,` up to `close` (None when something else stands between them)."""
        items: list[_Value] = []
        while i < len(toks) and toks[i].text != close:
            item, i = self.term(toks, i)
            items.append(item)
            if i < len(toks) and toks[i].text == ",":
                i += 1
            elif i < len(toks) and toks[i].text != close:
                return None, len(toks) + 1
        return items, i + 1

    def structure(self, toks: Sequence[Token], i: int) -> tuple[_Value, int]:
        """`{ field := term, ... }` (fields separated by `,`)."""
        fields: list[tuple[str, _Value]] = []
        while i + 1 < len(toks) and toks[i].kind is Kind.IDENT and toks[i + 1].text == ":=":
            name = toks[i].text
            item, i = self.term(toks, i + 2)
            fields.append((name, item))
            if i < len(toks) and toks[i].text == ",":
                i += 1
        if i < len(toks) and toks[i].text == "}":
            return _Struct(tuple(fields)), i + 1
        return _Dynamic(_source(toks)), len(toks) + 1

    # -- typed fields -------------------------------------------------------

    def as_path(self, v: _Value) -> PurePosixPath | None:
        if isinstance(v, str):
            return normalize_path(v)
        if isinstance(v, PurePosixPath):
            return normalize_path(str(v))
        return None

    def as_names(self, v: _Value) -> tuple[str, ...] | None:
        if isinstance(v, list) and all(isinstance(x, _Name) for x in v):
            return tuple(x.name for x in v if isinstance(x, _Name))
        return None

    def as_globs(self, v: _Value) -> tuple[Glob, ...] | None:
        items = v if isinstance(v, list) else [v]
        out: list[Glob] = []
        for x in items:
            if isinstance(x, Glob):
                out.append(x)
            elif isinstance(x, _Name):
                out.append(Glob(GlobKind.ONE, x.name))
            else:
                return None
        return tuple(out)

    def lean_typed(self) -> dict[str, Callable[[_Value], object]]:
        """Converters of the `LeanConfig` fields every package, library and executable has."""
        return {
            "leanOptions": _as_options,
            "moreLeanArgs": _as_strings,
            "weakLeanArgs": _as_strings,
            "buildType": _as_build_type,
        }

    # -- commands -----------------------------------------------------------

    def fields(self, owner: str, toks: list[Token]) -> list[tuple[Token, list[Token]]]:
        """`where` or `{ }` fields as (field name token, value tokens)."""
        if not toks:
            return []
        body: list[Token]
        if toks[0].text == "where":
            body = toks[1:]
        elif toks[0].text == "{" or toks[0].text == ":":
            start = next((k for k, t in enumerate(toks) if t.text == "{"), None)
            if start is None:
                self.report(Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, f"{owner}: expected `where` or `{{`", toks[0])
                return []
            body = _inside_braces(toks[start:])
        else:
            self.report(
                Code.LAKEFILE_PARSE_ERROR,
                Severity.ERROR,
                f"{owner}: unexpected `{toks[0].text}` (expected `where` or `{{ … }}`)",
                toks[0],
            )
            return []
        out: list[tuple[Token, list[Token]]] = []
        depth = 0
        k = 0
        while k < len(body):
            t = body[k]
            at_field = (
                depth == 0
                and t.kind is Kind.IDENT
                and k + 1 < len(body)
                and body[k + 1].text == ":="
                and (not out or t.first_on_line or body[k - 1].text in (",", ";"))
            )
            if at_field:
                out.append((t, []))
                k += 2
                continue
            if depth == 0 and t.text in (",", ";"):
                k += 1
                continue
            if not out:
                self.report(Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, f"{owner}: expected `field := value`", t)
                return out
            if t.text in ("(", "[", "{", "#[", "⟨", "%["):
                depth += 1
            elif t.text in (")", "]", "}", "⟩") and depth > 0:
                depth -= 1
            out[-1][1].append(t)
            k += 1
        return out

    def target_name(self, kind: str, toks: list[Token]) -> tuple[str, list[Token]] | None:
        if not toks or toks[0].kind not in (Kind.IDENT, Kind.STRING) or toks[0].text == "where":
            self.report(
                Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, f"`{kind}` without a name", toks[0] if toks else None
            )
            return None
        t = toks[0]
        name = t.value if t.kind is Kind.IDENT else render((t.value,))
        return name, toks[1:]

    def typed_fields(
        self, owner: str, toks: list[Token], known: frozenset[str], typed: Mapping[str, Callable[[_Value], object]]
    ) -> tuple[dict[str, object], list[str], list[tuple[str, str]], list[Token]]:
        """Read fields: `typed` ones through their converter (None means "needs Lean": the
        field is dynamic, Lake's default stays), the other known ones kept as text.
        Returns (typed values, dynamic fields, other fields, their name tokens)."""
        values: dict[str, object] = {}
        dynamic: list[str] = []
        extra: list[tuple[str, str]] = []
        names: list[Token] = []
        for field, value_toks in self.fields(owner, toks):
            key, v = field.text, self.value(value_toks)
            if key not in known:
                self.report(Code.UNKNOWN_CONFIG_KEY, Severity.WARNING, f"{owner}: unknown field `{key}`", field)
                continue
            convert = typed.get(key)
            if convert is None:
                extra.append((key, _source(value_toks)))
                names.append(field)
                if isinstance(v, _Dynamic):
                    self.dynamic(owner, key, v, field, used=False)
                continue
            parsed = convert(v)
            if parsed is None:
                dynamic.append(key)
                shown = v if isinstance(v, _Dynamic) else _Dynamic(_source(value_toks))
                self.dynamic(owner, key, shown, field, used=True)
            else:
                values[key] = parsed
        return values, dynamic, extra, names

    def lib(self, kw: Token, toks: list[Token], attrs: set[str]) -> LeanLib | None:
        named = self.target_name("lean_lib", toks)
        if named is None:
            return None
        name, rest = named
        typed = {"srcDir": self.as_path, "roots": self.as_names, "globs": self.as_globs, "libName": _as_str}
        values, dynamic, extra, _ = self.typed_fields(f"lean_lib {name}", rest, LIB_KEYS, typed | self.lean_typed())
        roots = cast(tuple[str, ...], values.get("roots", (name,)))
        globs = cast("tuple[Glob, ...] | None", values.get("globs"))
        return LeanLib(
            name=name,
            src_dir=cast(PurePosixPath, values.get("srcDir", HERE)),
            roots=roots,
            globs=globs if globs is not None else default_globs(roots),
            lib_name=cast(str, values.get("libName", mangle_lib_name(components(name)))),
            default_target="default_target" in attrs,
            dynamic_fields=tuple(dynamic),
            line=kw.line,
            extra=tuple(extra),
            lean=_lean_config(values),
        )

    def exe(self, kw: Token, toks: list[Token], attrs: set[str]) -> LeanExe | None:
        named = self.target_name("lean_exe", toks)
        if named is None:
            return None
        name, rest = named
        typed = {"srcDir": self.as_path, "root": _as_name, "exeName": _as_str}
        values, dynamic, _, _ = self.typed_fields(f"lean_exe {name}", rest, EXE_KEYS, typed | self.lean_typed())
        return LeanExe(
            name=name,
            root=cast(str, values.get("root", name)),
            src_dir=cast(PurePosixPath, values.get("srcDir", HERE)),
            exe_name=cast(str, values.get("exeName", "-".join(components(name)))),
            default_target="default_target" in attrs,
            dynamic_fields=tuple(dynamic),
            line=kw.line,
            lean=_lean_config(values),
        )

    def require(self, kw: Token, toks: list[Token]) -> Require | None:
        i, scope = 0, ""
        if len(toks) >= 3 and toks[0].kind is Kind.STRING and toks[1].text == "/" and toks[2].kind is Kind.STRING:
            scope, name, i = toks[0].value, render(legal_or_simple(toks[2].value)), 3
        elif toks and toks[0].kind in (Kind.IDENT, Kind.STRING):
            name, i = (toks[0].value if toks[0].kind is Kind.IDENT else render((toks[0].value,))), 1
        else:
            self.report(Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, "`require` without a package name", kw)
            return None
        kind, url, path, rev, version, sub_dir = RequireKind.RESERVOIR, None, None, None, None, None
        while i < len(toks):
            t = toks[i]
            if t.text == "@":
                is_git = i + 1 < len(toks) and toks[i + 1].text == "git"
                j = i + 2 if is_git else i + 1
                if j < len(toks) and toks[j].kind is Kind.STRING:
                    rev, version = (toks[j].value, version) if is_git else (rev, toks[j].value)
                    i = j + 1
                    continue
            elif t.text == "from":
                if i + 2 < len(toks) and toks[i + 1].text == "git" and toks[i + 2].kind is Kind.STRING:
                    kind, url, i = RequireKind.GIT, toks[i + 2].value, i + 3
                    if i + 1 < len(toks) and toks[i].text == "@" and toks[i + 1].kind is Kind.STRING:
                        rev, i = toks[i + 1].value, i + 2
                    if i + 1 < len(toks) and toks[i].text == "/" and toks[i + 1].kind is Kind.STRING:
                        sub_dir, i = toks[i + 1].value, i + 2
                    continue
                end = next((k for k in range(i + 1, len(toks)) if toks[k].text == "with"), len(toks))
                v = self.value(toks[i + 1 : end])
                parsed_path = self.as_path(v)
                if parsed_path is not None:
                    kind, path, i = RequireKind.PATH, str(parsed_path), end
                    continue
            elif t.text == "with":
                self.report(
                    Code.DYNAMIC_CONFIG,
                    Severity.INFO,
                    f"require {name}: `with` options need Lean to evaluate; not needed for discovery, ignored",
                    t,
                )
                break
            self.report(
                Code.DYNAMIC_CONFIG,
                Severity.INFO,
                f"require {name}: `{_short(_source(toks[i:]))}` needs Lean to evaluate; "
                "the manifest decides where the package is",
                t,
            )
            kind = RequireKind.UNKNOWN
            break
        return Require(name, scope, kind, url, path, rev, version, sub_dir, kw.line)

    def read(self, text: str, fallback_name: str) -> PackageConfig:
        tokens, errors = tokenize(text)
        for e in errors:
            self.diagnostics.append(
                diagnostic(Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, e.message, self.path, e.line, e.column)
            )
        if errors:
            self.usable = False  # Lean cannot parse the file, so Lake loads no configuration
        units = _split_units(tokens)
        for unit in units:
            if len(unit) >= 2 and unit[0].text in ("def", "abbrev"):
                self.defs[unit[1].text] = unit[0].line
        name: str | None = None
        package_fields: dict[str, object] = {}
        package_dynamic: list[str] = []
        legacy_fields: list[Token] = []
        extra: list[tuple[str, str]] = []
        libs: list[LeanLib] = []
        exes: list[LeanExe] = []
        requires: list[Require] = []
        defaults: list[str] = []
        for unit in units:
            attrs, k = _attributes(unit)
            if k >= len(unit):
                continue
            kw, rest = unit[k], unit[k + 1 :]
            word = kw.text if kw.kind is Kind.IDENT else ""
            if word == "package":
                named = self.target_name("package", rest)
                if named is None:
                    continue
                name = named[0]
                typed = {"srcDir": self.as_path, "buildDir": self.as_path, "packagesDir": self.as_path}
                known = PACKAGE_KEYS | LEGACY_PACKAGE_KEYS
                package_fields, package_dynamic, extra, fields = self.typed_fields(
                    f"package {name}", named[1], known, typed | self.lean_typed()
                )
                legacy_fields = [f for f in fields if f.text in LEGACY_PACKAGE_KEYS]
            elif word == "lean_lib":
                lib = self.lib(kw, rest, attrs)
                if lib is not None:
                    if any(x.name == lib.name for x in libs):
                        self.report(
                            Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, f"target `{lib.name}` is declared twice", kw
                        )
                    libs.append(lib)
            elif word == "lean_exe":
                exe = self.exe(kw, rest, attrs)
                if exe is not None:
                    exes.append(exe)
            elif word == "require":
                req = self.require(kw, rest)
                if req is not None:
                    requires.append(req)
            elif word == "attribute" and len(rest) >= 3 and rest[0].text == "[":
                close = next((j for j, t in enumerate(rest) if t.text == "]"), len(rest))
                if "default_target" in {t.text for t in rest[1:close]}:
                    defaults.extend(t.value for t in rest[close + 1 :] if t.kind is Kind.IDENT)
            elif word == "meta" and rest and rest[0].text == "if":
                inside = [t.value for j, t in enumerate(rest[1:], 1) if rest[j - 1].text in ("lean_lib", "lean_exe")]
                self.report(
                    Code.DYNAMIC_CONFIG,
                    Severity.WARNING,
                    "`meta if` chooses declarations when Lake runs; lean-batchd cannot evaluate it"
                    + (f" and ignores the targets inside ({', '.join(inside)})" if inside else ""),
                    kw,
                )
            elif word in _TARGET_COMMANDS:
                continue
            elif word not in COMMAND_KEYWORDS and kw.kind is not Kind.DOC:
                self.report(
                    Code.DYNAMIC_CONFIG,
                    Severity.INFO,
                    f"unrecognised command `{_short(_source(unit[k:]))}`; if it declares targets "
                    "(a user macro), lean-batchd cannot see them",
                    kw,
                )
        if name is None:
            self.report(
                Code.LAKEFILE_PARSE_ERROR,
                Severity.ERROR,
                f"no `package` declaration; using the folder name `{fallback_name}`",
                None,
            )
            name = render(legal_or_simple(fallback_name))
        libs = [_with_default(lib, defaults) for lib in libs]
        exes = [_with_default(exe, defaults) for exe in exes]
        legacy = not libs and (bool(legacy_fields) or not exes)
        if legacy:
            libs = [self.legacy_lib(name, legacy_fields)]
        return PackageConfig(
            name=name,
            kind=ConfigKind.LEAN,
            src_dir=cast(PurePosixPath, package_fields.get("srcDir", HERE)),
            build_dir=cast(PurePosixPath, package_fields.get("buildDir", DEFAULT_BUILD_DIR)),
            packages_dir=cast("PurePosixPath | None", package_fields.get("packagesDir")),
            default_targets=tuple(
                [lib.name for lib in libs if lib.default_target] + [e.name for e in exes if e.default_target]
            ),
            libs=tuple(libs),
            exes=tuple(exes),
            requires=tuple(requires),
            extra=tuple(extra),
            lean=_lean_config(package_fields),
            dynamic_fields=tuple(package_dynamic),
            legacy=legacy,
            usable=self.usable,
            diagnostics=tuple(self.diagnostics),
        )

    def legacy_lib(self, name: str, fields: list[Token]) -> LeanLib:
        old = f" (old-Lake package fields: {', '.join(f.text for f in fields)})" if fields else ""
        self.report(
            Code.LEGACY_CONFIG,
            Severity.WARNING,
            f"no `lean_lib` declared{old}; assuming the package's built-in library rooted at `{name}`, as old Lake did",
            fields[0] if fields else None,
        )
        return LeanLib(
            name=name,
            src_dir=PurePosixPath("."),
            roots=(name,),
            globs=default_globs((name,)),
            lib_name=mangle_lib_name(components(name)),
            dynamic_fields=("legacy",),
        )


_Target = TypeVar("_Target", LeanLib, LeanExe)


def _as_str(v: _Value) -> str | None:
    return v if isinstance(v, str) else None


def _as_name(v: _Value) -> str | None:
    return v.name if isinstance(v, _Name) else None


def _as_strings(v: _Value) -> tuple[str, ...] | None:
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(x for x in v if isinstance(x, str))
    return None


def _as_build_type(v: _Value) -> BuildType | None:
    return BuildType(v.name) if isinstance(v, _Ctor) and v.name in BuildType._value2member_map_ else None


def _as_options(v: _Value) -> tuple[tuple[str, OptionValue], ...] | None:
    """`#[⟨`name, value⟩, { name := `n, value := v }, ...]` with literal values (Lake's
    `Array LeanOption`; a value is a Bool, a Nat or a String, `.ofNat 3` and the like included)."""
    if not isinstance(v, list):
        return None
    out: list[tuple[str, OptionValue]] = []
    for item in v:
        if isinstance(item, _Anon) and len(item.items) == 2:
            name, value = item.items
        elif isinstance(item, _Struct) and sorted(k for k, _ in item.fields) == ["name", "value"]:
            fields = dict(item.fields)
            name, value = fields["name"], fields["value"]
        else:
            return None
        if not isinstance(name, _Name) or not isinstance(value, bool | int | str):
            return None
        out.append((name.name, value))
    return tuple(out)


def _lean_config(values: Mapping[str, object]) -> LeanConfig:
    return LeanConfig(
        lean_options=cast("tuple[tuple[str, OptionValue], ...]", values.get("leanOptions", ())),
        more_lean_args=cast("tuple[str, ...]", values.get("moreLeanArgs", ())),
        weak_lean_args=cast("tuple[str, ...]", values.get("weakLeanArgs", ())),
        build_type=cast("BuildType | None", values.get("buildType")),
    )


def _with_default(target: _Target, defaults: list[str]) -> _Target:
    if target.name in defaults and not target.default_target:
        return replace(target, default_target=True)
    return target


def _attributes(unit: list[Token]) -> tuple[set[str], int]:
    """Leading doc comments and `@[...]` lists: the attribute names and where the command starts."""
    attrs: set[str] = set()
    k = 0
    while k < len(unit):
        t = unit[k]
        if t.kind is Kind.DOC:
            k += 1
        elif t.text == "@[":
            k += 1
            while k < len(unit) and unit[k].text != "]":
                if unit[k].kind is Kind.IDENT:
                    attrs.add(unit[k].text)
                k += 1
            k += 1
        else:
            break
    return attrs, k


def _inside_braces(toks: list[Token]) -> list[Token]:
    depth = 0
    for k, t in enumerate(toks):
        if t.text in ("(", "[", "{", "#[", "⟨", "%["):
            depth += 1
        elif t.text in (")", "]", "}", "⟩"):
            depth -= 1
            if depth == 0:
                return toks[1:k]
    return toks[1:]


def _source(toks: Sequence[Token]) -> str:
    return "".join((" " if t.space_before and k else "") + t.text for k, t in enumerate(toks))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_lean_config(text: str, path: str, fallback_name: str) -> PackageConfig:
    return _Reader(path).read(text, fallback_name)
