"""SIMULATED `lake build`: stands in for Lake's up-to-date rule. It is not Lake.

    python -m lean_batchd.testing.lake build [--no-build] +MODULE ...

Run in a project's root, it reads the project as lean-batchd's Lake model does
and follows Lake's rule for each module in the targets' closures (those of the
project and its packages): a module is up to date when its `.olean` exists and
its `.trace` records the hash of its source and of its imports' traces
(`buildUnlessUpToDate?`, `Lake/Build/Common.lean`), so a `touch` changes
nothing and a rebuilt import makes its importers stale. `build` writes the
`.olean` (a header naming the project's Lean version) and `.trace` of every
module that is not up to date, imports first; `build --no-build` writes
nothing and exits 3 when one is not up to date (`noBuildCode`), else 0.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from ..lake import LakeProject, discover
from ..lake.artifacts import NO_BUILD_EXIT, olean_path

BANNER = "lean-batchd SIMULATED lake: not Lake; builds are stand-ins\n"


class Build:
    def __init__(self, project: LakeProject) -> None:
        self.project = project
        self.layouts = {layout.name: layout for layout in (project.layout, *project.workspace.dependencies)}
        self.hashes: dict[str, str] = {}

    def olean(self, module: str) -> Path:
        return olean_path(self.layouts[self.project.graph.modules[module].package], module)

    def trace_hash(self, module: str) -> str:
        """Lake's `depHash`, in spirit: the source's bytes, then each import's trace."""
        if module not in self.hashes:
            h = hashlib.sha256(Path(self.project.graph.modules[module].source.path).read_bytes())
            for edge in self.project.graph.edges(module):
                h.update(self.trace_hash(edge).encode())
            self.hashes[module] = h.hexdigest()
        return self.hashes[module]

    def up_to_date(self, module: str) -> bool:
        olean = self.olean(module)
        try:
            recorded = json.loads(olean.with_suffix(".trace").read_text())["depHash"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return olean.exists() and recorded == self.trace_hash(module)

    def imports_first(self, targets: list[str]) -> list[str]:
        """The targets' closure, each module after the modules it imports."""
        out: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.project.graph.modules:
                return
            seen.add(name)
            for edge in self.project.graph.edges(name):
                visit(edge)
            if self.project.graph.modules[name].package in self.layouts:
                out.append(name)

        for target in targets:
            visit(target)
        return out

    def write(self, module: str) -> None:
        olean = self.olean(module)
        olean.parent.mkdir(parents=True, exist_ok=True)
        version = (self.project.workspace.toolchain.version or "").encode()[:33]
        olean.write_bytes(b"olean" + bytes([2, 0]) + version.ljust(33, b"\0") + b"0" * 40 + bytes(8))
        olean.with_suffix(".trace").write_text(json.dumps({"depHash": self.trace_hash(module)}))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sys.stderr.write(BANNER)
    if not args or args[0] != "build":
        sys.stderr.write("the SIMULATED lake only runs `build`\n")
        return 1
    no_build = "--no-build" in args
    project = discover(Path.cwd())
    if not isinstance(project, LakeProject):
        sys.stderr.write("error: no Lake project here\n")
        return 1
    build = Build(project)
    targets = [a.removeprefix("+") for a in args[1:] if not a.startswith("-")]
    stale = [m for m in build.imports_first(targets) if not build.up_to_date(m)]
    if no_build:
        return NO_BUILD_EXIT if stale else 0
    for module in stale:
        build.write(module)
    return 0


if __name__ == "__main__":
    sys.exit(main())
