"""`lakefile.toml`, decoded with Lake's rules (`Lake/Load/Toml.lean`, `Lake/Toml/Decode.lean`).

Lake ignores unknown keys silently; we keep them and warn, because a typo in
`srcDir` otherwise changes which modules exist without a word.
"""

from __future__ import annotations

import difflib
import re
import reprlib
import sys
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from .config import (
    EXE_KEYS,
    LIB_KEYS,
    PACKAGE_KEYS,
    REQUIRE_KEYS,
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
    normalize_path,
)
from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .globs import parse_glob
from .names import components, legal_or_simple, parse_name, render, to_name
from .root import ConfigKind

if sys.version_info >= (3, 11):  # noqa: UP036 - `tomli` is declared for older Pythons
    import tomllib
else:  # pragma: no cover - declared through the `tomli` dependency marker
    import tomli as tomllib

_TABLE_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*[=.]")
_ERROR_AT_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _nearest_key(key: str, known: frozenset[str]) -> str | None:
    """The known key a typo most likely meant: the same but for case (`srcdir`), else a close one."""
    same = [k for k in known if k.lower() == key.lower()]
    return same[0] if same else next(iter(difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)), None)


class _Lines:
    """Where each key sits, so diagnostics point at a line (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.index: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        table, occurrence = "", 0
        seen: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            t = _TABLE_RE.match(line)
            if t:
                table = t.group(2).strip()
                occurrence = seen.get(table, -1) + 1
                seen[table] = occurrence
                self.tables[(table, occurrence)] = number
                continue
            k = _KEY_RE.match(line)
            if k:
                self.index.setdefault((table, occurrence, k.group(1).strip('"')), number)

    def of(self, table: str, occurrence: int, key: str | None = None) -> int | None:
        if key is not None and (table, occurrence, key) in self.index:
            return self.index[(table, occurrence, key)]
        return self.tables.get((table, occurrence))


class _Reader:
    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.lines = _Lines(text)
        self.diagnostics: list[Diagnostic] = []

    def report(
        self,
        code: Code,
        severity: Severity,
        message: str,
        where: tuple[str, int, str | None] = ("", 0, None),
    ) -> None:
        line = self.lines.of(*where)
        column = None if line is None else 0
        self.diagnostics.append(diagnostic(code, severity, message, self.path, line, column))

    def error(self, message: str, where: tuple[str, int, str | None]) -> None:
        self.report(Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, message, where)

    def unknown_keys(self, table: Mapping[str, Any], known: frozenset[str], where: tuple[str, int]) -> None:
        for key in sorted(set(table) - known):
            near = _nearest_key(key, known)
            hint = f"; did you mean `{near}`?" if near else ""
            self.report(
                Code.UNKNOWN_CONFIG_KEY,
                Severity.WARNING,
                f"unknown key `{key}` (Lake ignores it{hint})",
                (*where, key),
            )

    def string(self, table: Mapping[str, Any], key: str, where: tuple[str, int]) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(f"`{key}` must be a string, not {type(value).__name__}", (*where, key))
            return None
        return value

    def path_field(self, table: Mapping[str, Any], key: str, where: tuple[str, int]) -> PurePosixPath | None:
        value = self.string(table, key, where)
        return None if value is None else normalize_path(value)

    def name_field(self, table: Mapping[str, Any], key: str, where: tuple[str, int]) -> str | None:
        value = self.string(table, key, where)
        if value is None:
            return None
        parsed = parse_name(value)
        if parsed is None:
            self.error(f"`{key}`: expected name, got {value!r}", (*where, key))
            return None
        return render(parsed)

    def array(
        self, table: Mapping[str, Any], key: str, where: tuple[str, int], single: bool = False
    ) -> list[Any] | None:
        value = table.get(key)
        if value is None:
            return None
        if single and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.error(f"`{key}` must be an array", (*where, key))
            return None
        return value

    def lean_config(self, table: Mapping[str, Any], where: tuple[str, int]) -> LeanConfig:
        """The `LeanConfig` fields of a package, library or executable table (`LeanConfig.decodeToml`)."""
        kind: BuildType | None = None
        raw_kind = self.string(table, "buildType", where)
        if raw_kind is not None:
            if raw_kind in BuildType._value2member_map_:
                kind = BuildType(raw_kind)
            else:
                self.error(
                    f"`buildType` must be one of {', '.join(BuildType)}, not {_shown(raw_kind)}", (*where, "buildType")
                )
        return LeanConfig(
            lean_options=self.lean_options(table, where),
            more_lean_args=self.strings(table, "moreLeanArgs", where),
            weak_lean_args=self.strings(table, "weakLeanArgs", where),
            build_type=kind,
        )

    def strings(self, table: Mapping[str, Any], key: str, where: tuple[str, int]) -> tuple[str, ...]:
        out = []
        for x in self.array(table, key, where) or []:
            if isinstance(x, str):
                out.append(x)
            else:
                self.error(f"`{key}` entries must be strings, not {_shown(x)}", (*where, key))
        return tuple(out)

    def lean_options(self, table: Mapping[str, Any], where: tuple[str, int]) -> tuple[tuple[str, OptionValue], ...]:
        """`decodeLeanOptions`: a table (nested tables make dotted names; a quoted key is one
        component) or an array of `[name, value]` pairs and `{name, value}` tables."""
        value = table.get("leanOptions")
        if value is None:
            return ()
        out: list[tuple[str, OptionValue]] = []
        place = (*where, "leanOptions")
        if isinstance(value, dict):
            stack: list[tuple[tuple[str, ...], Any]] = [((k,), v) for k, v in reversed(value.items())]
            while stack:
                parts, item = stack.pop()
                if isinstance(item, dict):
                    stack.extend(((*parts, k), v) for k, v in reversed(item.items()))
                    continue
                typed = _option_value(item)
                if typed is None:
                    self.error(f"`leanOptions.{render(parts)}`: {_OPTION_VALUE} not {_shown(item)}", place)
                else:
                    out.append((render(parts), typed))
        elif isinstance(value, list):
            for entry in value:
                pair = _option_pair(entry)
                if isinstance(pair, str):
                    self.error(f"`leanOptions` entry {_shown(entry)}: {pair}", place)
                else:
                    out.append(pair)
        else:
            self.error("`leanOptions` must be a table or an array", place)
        return tuple(out)

    def tables(self, data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.error(f"`{key}` must be an array of tables (`[[{key}]]`)", (key, 0, None))
            return []
        out: list[tuple[int, Mapping[str, Any]]] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((i, item))
            else:
                self.error(f"`{key}` entry {i + 1} is not a table", (key, i, None))
        return out

    def read(self, data: Mapping[str, Any], fallback_name: str) -> PackageConfig:
        top = ("", 0)
        self.unknown_keys(data, PACKAGE_KEYS, top)
        raw_name = self.string(data, "name", top)
        if raw_name is None:
            self.error(f"package `name` is required; using the folder name `{fallback_name}`", ("", 0, None))
            raw_name = fallback_name
        name = render(legal_or_simple(raw_name))
        defaults = self.array(data, "defaultTargets", top) or []
        default_targets = tuple(render(legal_or_simple(t)) for t in defaults if isinstance(t, str))
        libs = self.libs(data, default_targets)
        exes = self.exes(data, default_targets)
        return PackageConfig(
            name=name,
            kind=ConfigKind.TOML,
            src_dir=self.path_field(data, "srcDir", top) or PurePosixPath("."),
            build_dir=self.path_field(data, "buildDir", top) or PurePosixPath(".lake/build"),
            packages_dir=self.path_field(data, "packagesDir", top),
            default_targets=default_targets,
            libs=tuple(libs),
            exes=tuple(exes),
            requires=tuple(self.requires(data)),
            extra=tuple((k, _shown(data[k])) for k in sorted(set(data) - PACKAGE_KEYS)),
            lean=self.lean_config(data, top),
            diagnostics=tuple(self.diagnostics),
        )

    def libs(self, data: Mapping[str, Any], default_targets: tuple[str, ...]) -> list[LeanLib]:
        libs: list[LeanLib] = []
        for i, table in self.tables(data, "lean_lib"):
            where = ("lean_lib", i)
            self.unknown_keys(table, LIB_KEYS, where)
            raw = self.string(table, "name", where)
            if raw is None:
                self.error("`lean_lib` without a `name` is skipped", (*where, None))
                continue
            name = render(legal_or_simple(raw))
            if any(lib.name == name for lib in libs):
                self.error(f"target `{name}` is declared twice", (*where, "name"))
            roots_given = self.array(table, "roots", where)
            roots: list[str] = []
            for r in roots_given or []:
                parsed = parse_name(r) if isinstance(r, str) else None
                if parsed is None:
                    self.error(f"`roots`: expected name, got {_shown(r)}", (*where, "roots"))
                else:
                    roots.append(render(parsed))
            if roots_given is None:
                roots = [name]
            globs_given = self.array(table, "globs", where, single=True)
            globs: list[Glob] = []
            for g in globs_given or []:
                parsed_glob = parse_glob(g) if isinstance(g, str) else "expected a string"
                if isinstance(parsed_glob, str):
                    self.error(f"`globs` entry {_shown(g)}: {parsed_glob}", (*where, "globs"))
                else:
                    globs.append(parsed_glob)
            libs.append(
                LeanLib(
                    name=name,
                    src_dir=self.path_field(table, "srcDir", where) or PurePosixPath("."),
                    roots=tuple(roots),
                    globs=tuple(globs) if globs_given is not None else default_globs(tuple(roots)),
                    lib_name=self.string(table, "libName", where) or mangle_lib_name(components(name)),
                    default_target=name in default_targets,
                    line=self.lines.of(*where),
                    extra=tuple((k, _shown(table[k])) for k in sorted(set(table) - LIB_KEYS)),
                    lean=self.lean_config(table, where),
                )
            )
        return libs

    def exes(self, data: Mapping[str, Any], default_targets: tuple[str, ...]) -> list[LeanExe]:
        exes: list[LeanExe] = []
        for i, table in self.tables(data, "lean_exe"):
            where = ("lean_exe", i)
            self.unknown_keys(table, EXE_KEYS, where)
            raw = self.string(table, "name", where)
            if raw is None:
                self.error("`lean_exe` without a `name` is skipped", (*where, None))
                continue
            name = render(legal_or_simple(raw))
            exes.append(
                LeanExe(
                    name=name,
                    root=self.name_field(table, "root", where) or name,
                    src_dir=self.path_field(table, "srcDir", where) or PurePosixPath("."),
                    exe_name=self.string(table, "exeName", where) or "-".join(components(name)),
                    default_target=name in default_targets,
                    line=self.lines.of(*where),
                    lean=self.lean_config(table, where),
                )
            )
        return exes

    def requires(self, data: Mapping[str, Any]) -> list[Require]:
        out: list[Require] = []
        for i, table in self.tables(data, "require"):
            where = ("require", i)
            self.unknown_keys(table, REQUIRE_KEYS, where)
            name = self.string(table, "name", where)
            if name is None:
                self.error("`require` without a `name` is skipped", (*where, None))
                continue
            kind, url, path, sub_dir = RequireKind.RESERVOIR, None, None, self.string(table, "subDir", where)
            rev = self.string(table, "rev", where)
            git = table.get("git")
            source = table.get("source")
            if isinstance(git, str):
                kind, url = RequireKind.GIT, git
            elif isinstance(git, dict):
                kind, url = RequireKind.GIT, _str(git.get("url"))
                sub_dir = _str(git.get("subDir")) or sub_dir
            elif "path" in table:
                kind, path = RequireKind.PATH, self.string(table, "path", where)
            elif isinstance(source, dict):
                kind = RequireKind.PATH if source.get("type") == "path" else RequireKind.GIT
                url, path = _str(source.get("url")), _str(source.get("dir"))
                rev = _str(source.get("rev")) or rev
                sub_dir = _str(source.get("subDir")) or sub_dir
            out.append(
                Require(
                    name=render(legal_or_simple(name)),
                    scope=self.string(table, "scope", where) or "",
                    kind=kind,
                    url=url,
                    path=path,
                    rev=rev,
                    version=self.string(table, "version", where),
                    sub_dir=sub_dir,
                    line=self.lines.of(*where),
                )
            )
        return out


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 4, 80, 80, 80


def _shown(value: object) -> str:
    """An ignored value as users see it: bounded in depth and length, whatever the file holds."""
    return _REPR.repr(value)


_OPTION_VALUE = "expected string, boolean, or nonnegative integer,"


def _option_value(value: object) -> OptionValue | None:
    """`LeanOptionValue.decodeToml`."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int) and value >= 0:
        return value
    return None


def _option_pair(entry: object) -> tuple[str, OptionValue] | str:
    """`LeanOption.decodeToml`: `[name, value]` or `{name = ..., value = ...}`; else why not."""
    if isinstance(entry, list):
        if len(entry) != 2:
            return "expected array of size 2"
        name, value = entry
    elif isinstance(entry, dict):
        if "name" not in entry or "value" not in entry:
            return "expected `name` and `value`"
        name, value = entry["name"], entry["value"]
    else:
        return "expected array or table"
    parsed = to_name(name) if isinstance(name, str) else None
    if parsed is None:
        return f"expected a name, not {_shown(name)}"
    typed = _option_value(value)
    if typed is None:
        return f"{_OPTION_VALUE} not {_shown(value)}"
    return render(parsed), typed


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_toml_config(text: str, path: str, fallback_name: str) -> PackageConfig:
    line: int | None = None
    column: int | None = None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        at = _ERROR_AT_RE.search(str(e))
        line, column = (int(at.group(1)), int(at.group(2)) - 1) if at else (None, None)
        problem = f"not valid TOML: {_ERROR_AT_RE.sub('', str(e)).strip()}"
    except RecursionError:
        problem = "not readable: arrays or tables nested too deep"
    except ValueError as e:  # an integer past Python's 4,300-digit conversion limit
        problem = f"not readable: {e}"
    else:
        return _Reader(text, path).read(data, fallback_name)
    return PackageConfig(
        name=render(legal_or_simple(fallback_name)),
        kind=ConfigKind.TOML,
        usable=False,
        diagnostics=(diagnostic(Code.LAKEFILE_PARSE_ERROR, Severity.ERROR, problem, path, line, column),),
    )
