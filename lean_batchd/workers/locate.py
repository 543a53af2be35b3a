"""Finding the Lean REPL a worker runs, and saying exactly what is missing when there is none."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "LEAN_BATCHD_REPL"
PROJECT_REPL = Path(".lake/packages/repl/.lake/build/bin/repl")
INSTALL_HINT = (
    "install the Lean REPL (https://github.com/leanprover-community/repl): require it in the lakefile and run "
    "`lake update && lake build repl` in the project, or build it and put `repl` on PATH, or point "
    f"{ENV_VAR} at the binary; workers run under `lake env`, so `lake` must be on PATH too (install elan: "
    "https://github.com/leanprover/elan)"
)


@dataclass(frozen=True, slots=True)
class ReplNotFound:
    looked: tuple[str, ...]
    missing_lake: bool

    def message(self) -> str:
        where = "; ".join(self.looked)
        lake = " `lake` is not on PATH either." if self.missing_lake else ""
        return f"no Lean REPL found (looked at: {where}).{lake} To fix: {INSTALL_HINT}"


def find_repl(
    project_root: Path, setting: str | None = None, under_lake: bool = True
) -> tuple[str, ...] | ReplNotFound:
    """The worker command for a project: the REPL from a setting, then $LEAN_BATCHD_REPL,
    then the project's `.lake/packages/repl` build, then PATH; run under `lake env` by default."""
    looked: list[str] = []
    project = project_root / PROJECT_REPL
    candidates: list[tuple[str, str | None]] = [
        ("the repl setting", setting),
        (f"${ENV_VAR}", os.environ.get(ENV_VAR)),
        ("the project's REPL build", str(project) if project.exists() else None),
        ("`repl` on PATH", shutil.which("repl")),
    ]
    lake = shutil.which("lake")
    for label, value in candidates:
        if not value:
            missing = {"the project's REPL build": f"not at {project}", "`repl` on PATH": "not found"}
            looked.append(f"{label} ({missing.get(label, 'unset')})")
            continue
        path = Path(value)
        if path.is_file() and os.access(path, os.X_OK):
            if not under_lake:
                return (str(path),)
            if lake is None:
                return ReplNotFound((*looked, f"{label}: {path} (found)"), missing_lake=True)
            return (lake, "env", str(path))
        looked.append(f"{label}: {value} (not an executable file)")
    return ReplNotFound(tuple(looked), missing_lake=lake is None)
