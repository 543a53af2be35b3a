"""How a file is elaborated: in its header's warm REPL session, or by Lean run as Lake runs it.

One decision, made here and nowhere else, so that it flips in one place when the
REPL learns what it lacks today. The REPL (leanprover-community/repl, read at
v4.33.0-rc2) elaborates the header with `processHeader header opts messages
inputCtx` (`REPL/Frontend.lean`, `processInput`): no `mainModule`, which Lean's
own docstring calls "a backwards compatibility measure not compatible with the
module system" (`Lean/Elab/Import.lean`), and nothing in the REPL sets the main
module afterwards (Lean's frontend does: `Language/Lean.lean`, `setMainModule`).
A `module` file is therefore elaborated by `lean --json` itself, one process per
file, with Lake's options, as `lake build` would.

Options follow Lean's own rules (`reparseOptions` in `Language/Lean.lean`): a
plain option is set after the import (`set_option` in the session persists into
every later command run on its env, as the REPL's recorded `options` session
shows); a `weak.` option is set only if the imports declare it (an unknown one is
skipped, never an error); an option Lean reads while importing cannot be set
after the import, so a file needing one leaves the REPL too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..lake.config import OptionValue
from ..lake.options import LeanOptions, lean_value
from ..lake.toolchain import ToolchainKind, classify, version_tuple

REPL_MODULE_SYSTEM_SINCE: tuple[int, int, int] | None = None
"""The first Lean version whose REPL release imports a header with its main module (and so
elaborates `module` files as Lake does); None while no release does (v4.33.0-rc2 does not)."""

HEADER_TIME_OPTIONS = {
    "experimental.module": "Lean reads it while importing (it chooses the import level in "
    "`processHeaderCore`, `Lean/Elab/Import.lean`, on versions that have it)",
    "Elab.inServer": "Lean reads it while importing (`processHeaderCore`, `Lean/Elab/Import.lean`)",
}
"""Options Lean reads before the first command, which a REPL session imports without."""

WEAK_PREFIX = "weak."


class ElaborationPath(StrEnum):
    REPL = "repl"
    """The body runs in the header's warm REPL session."""
    LEAN = "lean"
    """`lake env lean --json` on the whole file, one process per file, as `lake build` runs it."""


@dataclass(frozen=True, slots=True)
class Elaboration:
    path: ElaborationPath
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class OptionPlan:
    """How a session applies Lake's options after its header's import."""

    together: tuple[tuple[str, OptionValue], ...]
    """Set in one command; Lean would stop on any of them failing (an invalid `-D`)."""
    weak: tuple[tuple[str, str, OptionValue], ...]
    """(written name, declared name, value): each set on its own, skipped when undeclared."""
    not_applied: tuple[tuple[str, str], ...]
    """(name, why) for options a session cannot set after the import."""


def repl_elaborates_modules(toolchain: str) -> bool:
    """Does the REPL built for this toolchain import `module` headers as Lake does?"""
    if REPL_MODULE_SYSTEM_SINCE is None:
        return False
    version = version_tuple(classify(toolchain.partition("|")[0]))
    return version is not None and version >= REPL_MODULE_SYSTEM_SINCE


def elaboration_of(is_module: bool, options: LeanOptions, toolchain: str) -> Elaboration:
    """The path a file with this header kind, options and toolchain takes, and why."""
    header_time = [name for name, _ in options if name in HEADER_TIME_OPTIONS]
    if header_time:
        name = header_time[0]
        return Elaboration(
            ElaborationPath.LEAN,
            f"Lake sets {name}, which {HEADER_TIME_OPTIONS[name]}; a REPL session imports with no "
            "options, so the file runs in `lean --json` as `lake build` runs it",
        )
    if is_module and not repl_elaborates_modules(toolchain):
        kind = classify(toolchain.partition("|")[0])
        at = f" at {kind.version}" if kind.kind is not ToolchainKind.NONE and kind.version else ""
        return Elaboration(
            ElaborationPath.LEAN,
            f"a `module` file: the REPL{at} imports a header without its main module, which Lean "
            "documents as not compatible with the module system, so the file runs in `lean --json` "
            "as `lake build` runs it",
        )
    return Elaboration(ElaborationPath.REPL, "the body runs in its header's warm REPL session")


def option_plan(options: LeanOptions) -> OptionPlan:
    together: list[tuple[str, OptionValue]] = []
    weak: list[tuple[str, str, OptionValue]] = []
    not_applied: list[tuple[str, str]] = []
    for name, value in options:
        if name in HEADER_TIME_OPTIONS:
            not_applied.append((name, HEADER_TIME_OPTIONS[name]))
        elif name.startswith(WEAK_PREFIX):
            weak.append((name, name.removeprefix(WEAK_PREFIX), value))
        else:
            together.append((name, value))
    return OptionPlan(tuple(together), tuple(weak), tuple(not_applied))


def set_options(options: tuple[tuple[str, OptionValue], ...]) -> str:
    """`set_option` commands, one per line."""
    return "".join(f"set_option {name} {lean_value(value)}\n" for name, value in options)
