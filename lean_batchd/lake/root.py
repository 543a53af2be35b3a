"""Finding the Lake project a path belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .files import is_dir, is_file

LAKEFILE_LEAN = "lakefile.lean"
LAKEFILE_TOML = "lakefile.toml"
LEGACY_CONFIGS = ("leanpkg.toml", "package.lean")


class ConfigKind(StrEnum):
    """Which lakefile a root has. It lives here, not beside the configuration it describes, so
    that finding a root (every command's first step) does not import the configuration model."""

    LEAN = "lean"
    TOML = "toml"


@dataclass(frozen=True, slots=True)
class LakeRoot:
    root: Path
    lakefile: Path
    kind: ConfigKind


@dataclass(frozen=True, slots=True)
class RootSearch:
    found: LakeRoot | None
    searched: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...]


def lakefile_in(folder: Path) -> LakeRoot | None:
    """The lakefile Lake would load in `folder`: `lakefile.lean` first, as `resolveConfigFile` does
    (the workspace reports when both exist)."""
    lean, toml = folder / LAKEFILE_LEAN, folder / LAKEFILE_TOML
    if is_file(lean):
        return LakeRoot(folder, lean, ConfigKind.LEAN)
    if is_file(toml):
        return LakeRoot(folder, toml, ConfigKind.TOML)
    return None


def find_lake_root(path: Path) -> RootSearch:
    """The nearest folder at or above `path` with a lakefile (or its `lean/` subfolder, the
    layout of projects that keep Lean code beside other code)."""
    start = path.expanduser().resolve()
    if not is_dir(start):
        start = start.parent
    searched: list[Path] = []
    notes: list[Diagnostic] = []
    candidates = [start, start / "lean", *start.parents]
    for folder in candidates:
        if not is_dir(folder):
            continue
        searched.append(folder)
        found = lakefile_in(folder)
        if found is not None:
            return RootSearch(found, tuple(searched), tuple(notes))
        for legacy in LEGACY_CONFIGS:
            if is_file(folder / legacy):
                notes.append(
                    diagnostic(
                        Code.LEGACY_CONFIG,
                        Severity.WARNING,
                        f"{legacy} is a pre-Lake configuration; lean-batchd does not read it "
                        "(convert the project with a current Lake)",
                        folder / legacy,
                    )
                )
    notes.append(
        diagnostic(
            Code.MISSING_LAKE_ROOT,
            Severity.ERROR,
            f"no lakefile.lean or lakefile.toml at or above {start} "
            f"(looked in {len(searched)} folders, up to {searched[-1] if searched else start})",
            start,
        )
    )
    return RootSearch(None, tuple(searched), tuple(notes))
