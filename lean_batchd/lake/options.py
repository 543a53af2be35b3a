"""The Lean options a module is elaborated with, combined the way Lake combines them.

Lake (`Lake/Config/LeanLib.lean`, `Lake/Build/Module.lean`) runs
`lean <weakLeanArgs ++ leanArgs> file --setup <setup.json>`, where
- `LeanLib.weakLeanArgs` = package's `weakLeanArgs` ++ library's;
- `LeanLib.leanArgs` = `BuildType.leanArgs` ++ package's `moreLeanArgs` ++ library's;
- the setup file's `options` = `LeanLib.leanOptions` = `BuildType.leanOptions` ++ package's
  `leanOptions` ++ library's (`LeanOptions.append`: the later value of a name wins);
- the build type is the minimum of the package's and the library's (`LeanLib.buildType`);
  `debug` adds `debugAssertions = true` (`BuildType.leanOptions`);
and Lean reads `-D` arguments in order (the later wins), then lets the setup file's options
override them (`runFrontend`: "override cmdline options with setup options"). An executable's
root uses the same rule with the executable's config (`LeanExe.toLeanLib`).

Older Lake (before setup files) passed `leanOptions` as `-D` arguments too, in the order
package `leanOptions`, package `moreLeanArgs`, library `leanOptions`, library `moreLeanArgs`;
where that order gives another value, `option_notes` says so.

The result, `LeanOptions`, is a frozen, sorted tuple of (name, value) pairs with typed values
(bool, int for Nat, str): hashable, JSON-able, ready to be part of a session key. A name is
as written (`weak.linter.x` included: Lean applies a `weak.` option only if it is declared).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from .config import BuildType, LeanConfig, OptionValue

LeanOptions = tuple[tuple[str, OptionValue], ...]
"""Effective options: one value per name, sorted by name."""

_BUILD_ORDER = list(BuildType)


def d_value(text: str) -> OptionValue:
    """A `-D name=value` value. Lean converts the text by the option's declared type, which only a
    running Lean knows; `true`/`false` and decimal digits are the only texts a Bool or Nat option
    accepts, so they are read as such, and anything else stays a string."""
    if text in ("true", "false"):
        return text == "true"
    if text.isascii() and text.isdigit() and len(text) <= 1000:
        return int(text)
    return text


def d_options(args: Sequence[str]) -> tuple[list[tuple[str, OptionValue]], list[str]]:
    """The `-D name=value` entries of a `lean` argument list, in order (`-Dx=1` or `-D` `x=1`),
    and the problems Lean would stop at (`-D` without `=`, `-D` last)."""
    found: list[tuple[str, OptionValue]] = []
    problems: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-D"):
            continue
        body = arg[2:]
        if not body:
            if i >= len(args):
                problems.append("`-D` with no `name=value` after it (Lean stops: argument missing)")
                continue
            body = args[i]
            i += 1
        name, eq, value = body.lstrip().partition("=")
        if not eq or not name:
            problems.append(f"`{arg if arg != '-D' else '-D ' + body}`: Lean needs `-Dname=value` (it stops here)")
            continue
        found.append((name, d_value(value)))
    return found, problems


def lean_value(value: OptionValue) -> str:
    """A value as Lean source writes it (`set_option name <this>`): `true`, `3`, `"text"`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def build_type(package: LeanConfig, target: LeanConfig) -> BuildType:
    """`LeanLib.buildType`: the minimum of the package's and the target's (`release` by default)."""
    chosen = [package.build_type or BuildType.RELEASE, target.build_type or BuildType.RELEASE]
    return min(chosen, key=_BUILD_ORDER.index)


def _build_type_options(kind: BuildType) -> list[tuple[str, OptionValue]]:
    """`BuildType.leanOptions`."""
    return [("debugAssertions", True)] if kind is BuildType.DEBUG else []


def effective_options(package: LeanConfig, target: LeanConfig | None = None) -> LeanOptions:
    """The options Lake's `lean` invocation ends up with for a module of `target` (a library or an
    executable; None: a file outside every library, which gets the package's own)."""
    target = target or LeanConfig()
    kind = build_type(package, target)
    args = [
        *package.weak_lean_args,
        *target.weak_lean_args,
        *(f"-D{n}={v}" for n, v in _build_type_options(kind)),
        *package.more_lean_args,
        *target.more_lean_args,
    ]
    merged: dict[str, OptionValue] = dict(d_options(args)[0])
    for name, value in [*_build_type_options(kind), *package.lean_options, *target.lean_options]:
        merged[name] = value
    return tuple(sorted(merged.items()))


def _older_lake(package: LeanConfig, target: LeanConfig) -> dict[str, OptionValue]:
    """What Lake before setup files passed: everything as `-D`, later wins."""
    ordered = [
        *d_options([*package.weak_lean_args, *target.weak_lean_args])[0],
        *package.lean_options,
        *d_options(package.more_lean_args)[0],
        *target.lean_options,
        *d_options(target.more_lean_args)[0],
    ]
    return dict(ordered)


def arg_problems(config: LeanConfig) -> Iterable[str]:
    """`-D` entries of `moreLeanArgs` and `weakLeanArgs` that Lean would stop at."""
    for field, values in (("moreLeanArgs", config.more_lean_args), ("weakLeanArgs", config.weak_lean_args)):
        for problem in d_options(values)[1]:
            yield f"{field}: {problem}"


def version_notes(package: LeanConfig, target: LeanConfig, owner: str) -> Iterable[str]:
    """Names whose value depends on the Lake version (set by `leanOptions` and `-D`, differently)."""
    now = dict(effective_options(package, target))
    before = _older_lake(package, target)
    for name in sorted(set(now) & set(before)):
        if now[name] != before[name] and name != "debugAssertions":
            yield (
                f"{owner}: option {name} is {lean_value(now[name])} for Lake with module setup files "
                f"(leanOptions win) but was {lean_value(before[name])} for older Lake (the later -D won)"
            )
