"""Build artifacts: where Lake puts a module's `.olean`, and which ones a file would load stale.

Lean loads imported modules from their `.olean`, never from source. Checking a
file against a stale `.olean` reports errors that are not there (or hides real
ones), so such a file is answered "build first" instead of being checked.

Lake decides what is stale by trace hashes, not by modification times: a module
is rebuilt when the hash of its source, options and imports' traces differs
from its `.trace` file (`buildUnlessUpToDate?`, `Lake/Build/Common.lean`), so a
`touch` or a checkout changes nothing, and a module whose import was rebuilt
differently is stale even though its own files are older. Where Lake is
installed it is asked, once for all the modules a run needs, with `lake build
--no-build`, which builds nothing and exits 3 (`noBuildCode`) when something
would be built; the answer is narrowed to the modules that need it by asking
again about halves (suspects first: those the modification times point at).
Without Lake, modification times decide, the way Lake's own old mode did (an
`.olean` older than its source or than an import's `.olean` is stale), and the
answer says so.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from .layout import PackageLayout, join
from .names import module_relpath
from .project import LakeProject

NO_BUILD_EXIT = 3
"""`lake build --no-build`'s exit code when a target is not up to date (`noBuildCode`)."""
MAX_LAKE_QUESTIONS = 24
"""Narrowing down which modules Lake would build stops after this many questions; the rest of
the suspects are reported as needing a build (Lake said something does)."""


class JudgedBy(StrEnum):
    LAKE = "lake"
    """`lake build --no-build` answered."""
    MTIME = "mtime"
    """Modification times decided (no Lake here, or Lake failed to answer)."""


@dataclass(frozen=True, slots=True)
class StaleArtifact:
    module: str
    olean: str
    missing: bool
    """True when there is no `.olean`; False when it is out of date."""

    def to_json(self) -> dict[str, object]:
        return {"module": self.module, "olean": self.olean, "missing": self.missing}


@dataclass(frozen=True, slots=True)
class BuildStatus:
    stale: tuple[StaleArtifact, ...]
    judged_by: JudgedBy
    note: str = ""
    """Why modification times decided, when they did."""

    def hint(self) -> str:
        """What to run: `lake build` of the stale modules (Lake builds what they need too)."""
        names = [s.module for s in self.stale]
        shown = " ".join(names[:8]) + (f" (and {len(names) - 8} more)" if len(names) > 8 else "")
        if self.judged_by is JudgedBy.LAKE:
            why = "Lake would rebuild them"
        elif all(s.missing for s in self.stale):
            why = "their .olean files are missing"
        else:
            why = "their .olean files are missing or older than their sources or imports"
        judged = (
            f"; judged by modification times: {self.note}" if self.judged_by is JudgedBy.MTIME and self.note else ""
        )
        return f"its imports are not built: lake build {shown} ({why}{judged})"


def olean_path(layout: PackageLayout, module: str) -> Path:
    """`<package>/<buildDir>/lib/lean/A/B.olean`, where `lake build` writes module A.B."""
    rel = module_relpath(module).with_suffix(".olean")
    return join(layout.dir, layout.config.build_dir / PurePosixPath("lib/lean")) / rel


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def stale_artifacts(project: LakeProject, imports: Iterable[str]) -> list[StaleArtifact]:
    """By modification times: the modules loaded by importing `imports` (transitively; this
    project's and its packages', not core Lean's) whose `.olean` is missing, older than their
    source, or older than the `.olean` of a module they import (rebuilt since)."""
    layouts = {layout.name: layout for layout in (project.layout, *project.workspace.dependencies)}
    graph = project.graph
    built: dict[str, tuple[Path, int | None]] = {}
    for name in graph.closure(imports):
        layout = layouts.get(graph.modules[name].package)
        if layout is not None:
            olean = olean_path(layout, name)
            built[name] = (olean, _mtime(olean))
    out: list[StaleArtifact] = []
    for name in sorted(built):
        olean, when = built[name]
        if when is None:
            out.append(StaleArtifact(name, str(olean), missing=True))
        elif when < graph.modules[name].source.key[0] or any(
            (dep := built.get(edge)) is not None and dep[1] is not None and dep[1] > when for edge in graph.edges(name)
        ):
            out.append(StaleArtifact(name, str(olean), missing=False))
    return out


Ask = Callable[[Sequence[str]], int]
"""Runs `lake build --no-build` on module targets and returns its exit code."""


def lake_asker(lake: Sequence[str], root: Path, timeout: float = 600.0) -> Ask:
    def ask(modules: Sequence[str]) -> int:
        argv = [*lake, "build", "--no-build", *(f"+{m}" for m in modules)]
        try:
            done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise LakeUnanswered(f"`{' '.join(argv[:3])}` did not answer: {e}") from e
        if done.returncode not in (0, NO_BUILD_EXIT):
            said = (done.stderr.strip() or done.stdout.strip())[-500:]
            raise LakeUnanswered(f"`lake build --no-build` failed (exit {done.returncode}): {said}")
        return done.returncode

    return ask


class LakeUnanswered(Exception):
    """Lake could not say (a broken lakefile, a timeout): modification times decide instead."""


def lake_stale(targets: Sequence[str], suspects: set[str], ask: Ask) -> set[str]:
    """The targets whose build Lake says is not up to date (each with everything it imports):
    one question when all are; otherwise parts are asked about (suspects apart from the rest,
    then halves) down to single targets, within `MAX_LAKE_QUESTIONS`."""
    asked = 0

    def split(group: list[str]) -> tuple[list[str], list[str]]:
        guilty = [t for t in group if t in suspects]
        if guilty and len(guilty) < len(group):
            return guilty, [t for t in group if t not in suspects]
        return group[: len(group) // 2], group[len(group) // 2 :]

    def narrow(group: list[str], known: bool = False) -> set[str]:
        nonlocal asked
        if not group:
            return set()
        if not known:
            if asked >= MAX_LAKE_QUESTIONS:
                return set(group)
            asked += 1
            if ask(group) == 0:
                return set()
        if len(group) == 1:
            return set(group)
        first, second = split(group)
        return narrow(first) | narrow(second)

    return narrow(sorted(set(targets)))
