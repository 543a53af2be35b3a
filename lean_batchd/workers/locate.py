"""Finding the Lean REPL a worker runs, knowing which Lean it is, and saying what is wrong if so.

A REPL binary is built for exactly one Lean version; under `lake env` it loads the
project toolchain's `.olean` files, so a REPL of another version makes every
import fail ("incompatible header", `lean_compacted_region_read` in Lean's
`src/library/module.cpp`). Each candidate's version is read from its build tree:
every `.olean` Lake wrote for it records the Lean version that wrote it (the
`olean_header`: 5 bytes `olean`, a format byte, a flags byte, then 33 bytes of
version string), which is the Lean its binary was linked with; without a build
tree, its `lean-toolchain` says which Lean it was meant for. The project's side
is its own `lean-toolchain`, read from the project root.

The project's REPL is found by the package names in `lake-manifest.json`: Lake
names a package's folder after the name the package declares, which for
leanprover-community/repl is `REPL` (its `lakefile.toml`), so the folder name
is read, never guessed.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..lake.manifest import read_manifest
from ..lake.toolchain import Toolchain, ToolchainKind, classify, read_toolchain_file

ENV_VAR = "LEAN_BATCHD_REPL"
BINARY = Path(".lake/build/bin/repl")
REPL_REPOSITORY = "leanprover-community/repl"
INSTALL_HINT = (
    "install the Lean REPL (https://github.com/leanprover-community/repl): require it in the lakefile at the "
    "tag of your Lean version and run `lake update REPL && lake build repl` in the project, or build it and "
    f"put `repl` on PATH, or point {ENV_VAR} at the binary; workers run under `lake env`, so `lake` must be on "
    "PATH too (install elan: https://github.com/leanprover/elan)"
)
_OLEAN_ERROR_RE = re.compile(r"failed to read file '([^']+\.olean)', (incompatible|invalid) header")
_NIGHTLY_RE = re.compile(r"-nightly-(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class ReplFound:
    command: tuple[str, ...]
    """The worker command: the binary, under `lake env` by default."""
    binary: str
    source: str
    """Where it was found (`the repl setting`, `$LEAN_BATCHD_REPL`, `the project's REPL package`, `PATH`)."""
    lean_version: str | None
    version_from: str
    """How the version is known, or why it is not."""

    def to_json(self) -> dict[str, object]:
        return {
            "command": list(self.command),
            "binary": self.binary,
            "source": self.source,
            "leanVersion": self.lean_version,
            "versionFrom": self.version_from,
        }


@dataclass(frozen=True, slots=True)
class ReplNotFound:
    looked: tuple[str, ...]
    missing_lake: bool

    def message(self) -> str:
        where = "; ".join(self.looked)
        lake = " `lake` is not on PATH either." if self.missing_lake else ""
        return f"no Lean REPL found (looked at: {where}).{lake} To fix: {INSTALL_HINT}"


@dataclass(frozen=True, slots=True)
class ReplMismatch:
    """A REPL built for another Lean than the project's: every import would fail."""

    binary: str
    source: str
    repl_version: str
    version_from: str
    project_toolchain: str

    def message(self) -> str:
        return (
            f"the Lean REPL {self.binary} ({self.source}) runs Lean {self.repl_version} (from {self.version_from}), "
            f"but the project's lean-toolchain pins {self.project_toolchain}, so every import would fail. "
            f"To fix: {repl_advice(classify(self.project_toolchain))}"
        )


Located = ReplFound | ReplNotFound | ReplMismatch


def repl_tag(toolchain: Toolchain) -> str | None:
    """The REPL's release tag for a Lean release (the REPL tags each release it supports: `v4.24.0`)."""
    if toolchain.kind is ToolchainKind.RELEASE and toolchain.version is not None:
        return f"v{toolchain.version}"
    return None


def repl_advice(toolchain: Toolchain) -> str:
    tag = repl_tag(toolchain)
    which = f"at tag {tag}" if tag else f"from a revision built for {toolchain.spec or 'your toolchain'}"
    return f"build the REPL {which} (require it at that rev and run `lake update REPL && lake build repl`)"


def olean_lean_version(path: Path) -> str | None:
    """The Lean version an `.olean` header records (format 2 and later; format 1 has none)."""
    try:
        with open(path, "rb") as f:
            head = f.read(40)
    except OSError:
        return None
    if len(head) < 40 or head[:5] != b"olean" or head[5] < 2:
        return None
    text = head[7:40].split(b"\0", 1)[0].decode("ascii", errors="replace").strip()
    return text or None


def build_tree_version(binary: Path) -> tuple[str | None, str]:
    """The Lean version of a REPL binary built by Lake at `<root>/.lake/build/bin/repl`."""
    if binary.parts[-4:-1] != (".lake", "build", "bin"):
        return None, "unknown (not in a Lake build tree)"
    root = binary.parents[3]
    for lib in (root / ".lake/build/lib/lean/REPL", root / ".lake/build/lib/REPL"):
        main = lib / "Main.olean"
        version = olean_lean_version(main)
        if version is not None:
            return version, f"its build tree ({main})"
    toolchain, _ = read_toolchain_file(root / "lean-toolchain")
    if toolchain.kind is not ToolchainKind.NONE:
        return lean_version_of(toolchain), f"its lean-toolchain ({root / 'lean-toolchain'})"
    return None, f"unknown (no .olean with a version and no lean-toolchain under {root})"


def lean_version_of(toolchain: Toolchain) -> str:
    return toolchain.version if toolchain.kind is ToolchainKind.RELEASE and toolchain.version else toolchain.spec


def same_lean(project: Toolchain, version: str) -> bool | None:
    """Does Lean `version` (as an .olean or `Lean.versionString` says it) match the project's
    toolchain? None when the toolchain cannot be compared (a custom or PR toolchain, none)."""
    if project.kind is ToolchainKind.RELEASE and project.version is not None:
        return version == project.version
    if project.kind is ToolchainKind.NIGHTLY and project.version is not None:
        m = _NIGHTLY_RE.search(version)
        return m is not None and m.group(1) == project.version
    if project.kind is ToolchainKind.OTHER and project.spec == version:
        return True
    return None


def _manifest_repls(project_root: Path) -> list[Path]:
    """The REPL packages the project's manifest names, by their declared names and sources."""
    manifest, _ = read_manifest(project_root / "lake-manifest.json")
    if manifest is None:
        return []
    packages_dir = manifest.packages_dir or PurePosixPath(".lake/packages")
    out = []
    for entry in manifest.packages:
        url = (entry.url or "").removesuffix("/").removesuffix(".git")
        if entry.name.lower() == "repl" or url.endswith(REPL_REPOSITORY):
            out.append(entry.location(project_root, packages_dir) / BINARY)
    return out


def find_repl(project_root: Path, setting: str | None = None, under_lake: bool = True) -> Located:
    """The REPL for a project, and its Lean version: the one a setting or $LEAN_BATCHD_REPL names
    (taken as given, mismatch or not), else the first of the project's REPL packages and `repl`
    on PATH whose version matches the project's `lean-toolchain` (or cannot be told); run under
    `lake env` by default. A REPL of another Lean is a `ReplMismatch`, never used silently."""
    project, _ = read_toolchain_file(project_root / "lean-toolchain")
    looked: list[str] = []
    explicit: list[tuple[str, str | None]] = [("the repl setting", setting), (f"${ENV_VAR}", os.environ.get(ENV_VAR))]
    packages = _manifest_repls(project_root)
    automatic: list[tuple[str, str | None]] = [("the project's REPL package", str(p)) for p in packages if p.exists()]
    if not automatic:
        where = ", ".join(str(p) for p in packages) or "the manifest names no REPL package"
        looked.append(f"the project's REPL package (not built: {where})")
    automatic.append(("`repl` on PATH", shutil.which("repl")))
    lake = shutil.which("lake")
    mismatch: ReplMismatch | None = None
    for label, value in [*explicit, *automatic]:
        if not value:
            looked.append(f"{label} ({'not found' if label == '`repl` on PATH' else 'unset'})")
            continue
        path = Path(value)
        if not (path.is_file() and os.access(path, os.X_OK)):
            looked.append(f"{label}: {value} (not an executable file)")
            continue
        version, version_from = build_tree_version(path.resolve())
        if version is not None and same_lean(project, version) is False:
            found_mismatch = ReplMismatch(str(path), label, version, version_from, project.spec)
            if (label, value) in explicit:
                return found_mismatch
            mismatch = mismatch or found_mismatch
            looked.append(f"{label}: {path} (Lean {version}, not the project's {project.spec})")
            continue
        if not under_lake:
            return ReplFound((str(path),), str(path), label, version, version_from)
        if lake is None:
            return ReplNotFound((*looked, f"{label}: {path} (found)"), missing_lake=True)
        return ReplFound((lake, "env", str(path)), str(path), label, version, version_from)
    if mismatch is not None:
        return mismatch
    return ReplNotFound(tuple(looked), missing_lake=lake is None)


def explain_import_failure(detail: str, toolchain: str) -> str:
    """An import error that is an `.olean` written by another Lean, said as such (with the
    version the file records); anything else as Lean said it."""
    m = _OLEAN_ERROR_RE.search(detail)
    if m is None:
        return detail
    written = olean_lean_version(Path(m.group(1)))
    spec = toolchain.partition("|")[0]
    by = f"Lean {written}" if written else "another Lean version"
    return (
        f"{m.group(1)} was written by {by}, not by the Lean this REPL runs; the REPL and the build must both be "
        f"the project's Lean ({spec or 'see lean-toolchain'}): run `lake build`, and "
        f"{repl_advice(classify(spec))} ({detail})"
    )
