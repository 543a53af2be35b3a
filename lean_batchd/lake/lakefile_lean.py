"""`lakefile.lean`, read statically: the literal sub-language of Lake's DSL, nothing more.

Lake elaborates the lakefile as Lean code. We cannot, so we read exactly the
forms whose meaning is fixed (strings, `/` joins, name literals, `#[...]`,
glob constructors) and diagnose everything else as `dynamic-config`, naming
the field and line, falling back to Lake's default for that field and marking
the target. Nothing is guessed silently. The file is cut into commands
(`lakefile_commands`), values are evaluated by `lean_literals`, and this module
reads Lake's declarations (`package`, `lean_lib`, `lean_exe`, `require`) from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
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
    Glob,
    LeanConfig,
    LeanExe,
    LeanLib,
    OptionValue,
    PackageConfig,
    Require,
    RequireKind,
    default_globs,
    mangle_lib_name,
)
from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .lakefile_commands import COMMAND_KEYWORDS, TARGET_COMMANDS, attributes, inside_braces, split_units
from .lean_lexer import Kind, Token, tokenize
from .lean_literals import (
    MAX_NESTING,
    Dynamic,
    Value,
    as_build_type,
    as_globs,
    as_name,
    as_names,
    as_options,
    as_path,
    as_str,
    as_strings,
    evaluate,
    short,
    source,
)
from .names import NAME_PATTERN, components, legal_or_simple, render
from .root import ConfigKind

_LEAN_CONFIG_FIELDS = frozenset(["leanOptions", "moreLeanArgs", "weakLeanArgs", "buildType"])
_WORD_RE = re.compile(NAME_PATTERN)


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.defs: dict[str, int] = {}
        self.usable = True

    def report(self, code: Code, severity: Severity, message: str, at: Token | None) -> None:
        self.diagnostics.append(
            diagnostic(code, severity, message, self.path, at.line if at else None, at.column if at else None)
        )

    def dynamic(self, owner: str, field: str, value: Dynamic, at: Token, used: bool) -> None:
        words = (w for w in _WORD_RE.findall(value.text) if w in self.defs)
        ref = next((f" (it refers to `{d}`, defined on line {self.defs[d]})" for d in words), "")
        if used and field in _LEAN_CONFIG_FIELDS:
            message = (
                f"{owner}: `{field} := {short(value.text)}` needs Lean to evaluate{ref}; "
                "sessions will not apply these options (Lake's default is used), so elaboration may differ "
                "from `lake build`"
            )
        elif used:
            message = (
                f"{owner}: `{field} := {short(value.text)}` needs Lean to evaluate{ref}; "
                f"using Lake's default for `{field}`"
            )
        else:
            message = f"{owner}: `{field}` needs Lean to evaluate{ref}; not needed for discovery, ignored"
        self.report(Code.DYNAMIC_CONFIG, Severity.WARNING if used else Severity.INFO, message, at)

    def value(self, toks: Sequence[Token]) -> Value:
        v = evaluate(toks)
        if v is None:
            self.usable = False
            self.report(
                Code.LAKEFILE_PARSE_ERROR,
                Severity.ERROR,
                f"brackets nested more than {MAX_NESTING} deep; Lean's parser gives up long before "
                "(maximum recursion depth), so Lake would load nothing",
                toks[0],
            )
            return Dynamic(short(source(toks[:20])))
        return v

    def lean_typed(self) -> dict[str, Callable[[Value], object]]:
        """Converters of the `LeanConfig` fields every package, library and executable has."""
        return {
            "leanOptions": as_options,
            "moreLeanArgs": as_strings,
            "weakLeanArgs": as_strings,
            "buildType": as_build_type,
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
            body = inside_braces(toks[start:])
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
        self, owner: str, toks: list[Token], known: frozenset[str], typed: Mapping[str, Callable[[Value], object]]
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
                extra.append((key, source(value_toks)))
                names.append(field)
                if isinstance(v, Dynamic):
                    self.dynamic(owner, key, v, field, used=False)
                continue
            parsed = convert(v)
            if parsed is None:
                dynamic.append(key)
                shown = v if isinstance(v, Dynamic) else Dynamic(source(value_toks))
                self.dynamic(owner, key, shown, field, used=True)
            else:
                values[key] = parsed
        return values, dynamic, extra, names

    def lib(self, kw: Token, toks: list[Token], attrs: set[str]) -> LeanLib | None:
        named = self.target_name("lean_lib", toks)
        if named is None:
            return None
        name, rest = named
        typed = {"srcDir": as_path, "roots": as_names, "globs": as_globs, "libName": as_str}
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
        typed = {"srcDir": as_path, "root": as_name, "exeName": as_str}
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
                parsed_path = as_path(v)
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
                f"require {name}: `{short(source(toks[i:]))}` needs Lean to evaluate; "
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
        units = split_units(tokens)
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
            attrs, k = attributes(unit)
            if k >= len(unit):
                continue
            kw, rest = unit[k], unit[k + 1 :]
            word = kw.text if kw.kind is Kind.IDENT else ""
            if word == "package":
                named = self.target_name("package", rest)
                if named is None:
                    continue
                name = named[0]
                typed = {"srcDir": as_path, "buildDir": as_path, "packagesDir": as_path}
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
            elif word in TARGET_COMMANDS:
                continue
            elif word not in COMMAND_KEYWORDS and kw.kind is not Kind.DOC:
                self.report(
                    Code.DYNAMIC_CONFIG,
                    Severity.INFO,
                    f"unrecognised command `{short(source(unit[k:]))}`; if it declares targets "
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


def read_lean_config(text: str, path: str, fallback_name: str) -> PackageConfig:
    return _Reader(path).read(text, fallback_name)
