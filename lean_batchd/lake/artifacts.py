"""Build artifacts: where Lake puts a module's `.olean`, and which ones a file would load stale.

Lean loads imported modules from their `.olean`, never from source. Checking a
file against an `.olean` older than its source reports errors that are not
there (or hides real ones), so a stale or missing artifact is reported as
"build first" instead of being checked against.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .layout import PackageLayout, join
from .names import module_relpath
from .project import LakeProject


@dataclass(frozen=True, slots=True)
class StaleArtifact:
    module: str
    olean: str
    missing: bool
    """True when there is no `.olean`; False when it is older than its source."""

    def to_json(self) -> dict[str, object]:
        return {"module": self.module, "olean": self.olean, "missing": self.missing}


def olean_path(layout: PackageLayout, module: str) -> Path:
    """`<package>/<buildDir>/lib/lean/A/B.olean`, where `lake build` writes module A.B."""
    rel = module_relpath(module).with_suffix(".olean")
    return join(layout.dir, layout.config.build_dir / PurePosixPath("lib/lean")) / rel


def stale_artifacts(project: LakeProject, imports: Iterable[str]) -> list[StaleArtifact]:
    """The modules loaded by importing `imports` (transitively; this project's and its
    packages', not core Lean's) whose `.olean` is missing or older than their source."""
    layouts = {layout.name: layout for layout in (project.layout, *project.workspace.dependencies)}
    graph = project.graph
    out: list[StaleArtifact] = []
    for name in sorted(graph.closure(imports)):
        module = graph.modules[name]
        layout = layouts.get(module.package)
        if layout is None:
            continue
        olean = olean_path(layout, name)
        try:
            built = os.stat(olean).st_mtime_ns
        except OSError:
            out.append(StaleArtifact(name, str(olean), missing=True))
            continue
        if built < module.source.key[0]:
            out.append(StaleArtifact(name, str(olean), missing=False))
    return out


def build_hint(stale: list[StaleArtifact]) -> str:
    """What to run: `lake build` of the stale modules (Lake builds what they need too)."""
    names = [s.module for s in stale]
    shown = " ".join(names[:8]) + (f" (and {len(names) - 8} more)" if len(names) > 8 else "")
    what = "missing" if all(s.missing for s in stale) else "missing or older than their sources"
    return f"its imports are not built: lake build {shown} (their .olean files are {what})"
