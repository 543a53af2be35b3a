"""The configuration side of a project: lakefile, toolchain, manifest and dependency packages.

Everything here is read from small files and decides *where* modules are;
the module contents are the project model's business.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from .config import PackageConfig
from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .files import CONFIG_LIMIT, FileProblem, is_dir, is_file, read_capped
from .inputs import config_digest
from .lakefile_lean import read_lean_config
from .lakefile_toml import read_toml_config
from .layout import PackageLayout
from .manifest import Manifest, read_manifest
from .names import legal_or_simple, render
from .options import arg_problems, version_notes
from .root import LAKEFILE_LEAN, LAKEFILE_TOML, ConfigKind, LakeRoot, lakefile_in
from .toolchain import SUPPORTED_MIN, Toolchain, lean_version, read_toolchain_file, support_diagnostics

MANIFEST = "lake-manifest.json"
DEFAULT_PACKAGES_DIRS = (".lake/packages", "lake-packages", "lean_packages")
"""Where dependencies are when neither the manifest nor the lakefile says: the first that exists."""
TOOLCHAIN = "lean-toolchain"


@dataclass(frozen=True, slots=True)
class WorkspaceOptions:
    supported_min: tuple[int, int, int] = SUPPORTED_MIN
    supported_max: tuple[int, int, int] | None = None
    query_lean_version: bool = False
    """Run `lean --version` when a Lean is on PATH (the CLI does; tests need not)."""


@dataclass(frozen=True, slots=True)
class Workspace:
    root: LakeRoot
    config: PackageConfig
    layout: PackageLayout
    toolchain: Toolchain
    manifest: Manifest | None
    packages_dir: PurePosixPath
    dependencies: tuple[PackageLayout, ...]
    """Present dependency packages, in manifest order."""
    missing: tuple[str, ...]
    """Dependency packages the manifest names but that are not on disk."""
    lakefile_digest: str
    manifest_digest: str | None
    config_files: frozenset[str]
    """Files whose change means the libraries must be re-evaluated."""
    config_digest: str
    """Digest of all of `config_files` (absent ones included), to notice edits on a rescan."""
    diagnostics: tuple[Diagnostic, ...]


def _read_bytes(path: Path) -> bytes | FileProblem:
    read = read_capped(path, CONFIG_LIMIT)
    return read if isinstance(read, FileProblem) else read[0]


def read_package_config(root: LakeRoot) -> tuple[PackageConfig, bytes]:
    data = _read_bytes(root.lakefile)
    if isinstance(data, FileProblem):
        note = diagnostic(Code.IO_ERROR, Severity.ERROR, f"cannot read the lakefile: {data.message}", root.lakefile)
        return PackageConfig(
            name=render(legal_or_simple(root.root.name)), kind=root.kind, usable=False, diagnostics=(note,)
        ), b""
    text = data.decode("utf-8", errors="replace")
    reader = read_lean_config if root.kind is ConfigKind.LEAN else read_toml_config
    return reader(text, str(root.lakefile), root.root.name), data


def _packages_dir(root: Path, manifest: Manifest | None, config: PackageConfig) -> PurePosixPath:
    """Manifest's `packagesDir`, then the config's, then `.lake/packages`, then the legacy folders."""
    if manifest is not None and manifest.packages_dir is not None:
        return manifest.packages_dir
    if config.packages_dir is not None:
        return config.packages_dir
    default = PurePosixPath(DEFAULT_PACKAGES_DIRS[0])
    if not is_dir(root / default):
        for legacy in DEFAULT_PACKAGES_DIRS[1:]:
            if is_dir(root / legacy):
                return PurePosixPath(legacy)
    return default


def _quiet(diagnostics: tuple[Diagnostic, ...]) -> list[Diagnostic]:
    """A dependency's lakefile findings are informational: its users cannot fix them."""
    return [
        d if d.severity is Severity.INFO else Diagnostic(d.path, d.line, d.column, d.code, Severity.INFO, d.message)
        for d in diagnostics
    ]


def _option_findings(config: PackageConfig, path: Path) -> list[Diagnostic]:
    """Malformed `-D` arguments (Lean would stop at them) and options whose value depends on the
    Lake version, for the package and each library and executable."""
    out = [
        diagnostic(Code.LEAN_OPTION, Severity.WARNING, f"package {config.name} {problem}", path)
        for problem in arg_problems(config.lean)
    ]
    targets = [(f"lean_lib {t.name}", t.lean, t.line) for t in config.libs]
    targets += [(f"lean_exe {t.name}", t.lean, t.line) for t in config.exes]
    for owner, lean, line in targets:
        out.extend(
            diagnostic(Code.LEAN_OPTION, Severity.WARNING, f"{owner} {problem}", path, line, 0 if line else None)
            for problem in arg_problems(lean)
        )
        out.extend(
            diagnostic(Code.LEAN_OPTION, Severity.INFO, note, path, line, 0 if line else None)
            for note in version_notes(config.lean, lean, owner)
        )
    return out


def load_workspace(root: LakeRoot, options: WorkspaceOptions = WorkspaceOptions()) -> Workspace:
    notes: list[Diagnostic] = []
    other = root.root / (LAKEFILE_TOML if root.kind is ConfigKind.LEAN else LAKEFILE_LEAN)
    if is_file(other):
        notes.append(
            diagnostic(
                Code.BOTH_LAKEFILES,
                Severity.WARNING,
                "both lakefile.lean and lakefile.toml are present; using lakefile.lean (as Lake does)",
                other,
            )
        )
    for name in (LAKEFILE_LEAN, LAKEFILE_TOML):
        path = root.root / name
        if os.path.lexists(path) and not is_file(path):
            notes.append(diagnostic(Code.IO_ERROR, Severity.WARNING, "not a regular file; ignored", path))
    config, lakefile_bytes = read_package_config(root)
    notes.extend(config.diagnostics)
    notes.extend(_option_findings(config, root.lakefile))
    toolchain_path = root.root / TOOLCHAIN
    toolchain, toolchain_notes = read_toolchain_file(toolchain_path)
    notes.extend(toolchain_notes)
    if options.query_lean_version:
        version = lean_version(root.root)
        if version is not None:
            toolchain = Toolchain(toolchain.spec, toolchain.kind, toolchain.origin, toolchain.version, version)
    notes.extend(support_diagnostics(toolchain, str(toolchain_path), options.supported_min, options.supported_max))
    manifest_path = root.root / MANIFEST
    manifest_bytes = _read_bytes(manifest_path)
    manifest, manifest_notes = read_manifest(manifest_path)
    notes.extend(manifest_notes)
    packages_dir = _packages_dir(root.root, manifest, config)
    config_files = {
        str(root.root / LAKEFILE_LEAN),
        str(root.root / LAKEFILE_TOML),
        str(manifest_path),
        str(toolchain_path),
    }
    if (manifest is None or manifest.packages_dir is None) and config.packages_dir is None:
        config_files.update(str(root.root / d) for d in DEFAULT_PACKAGES_DIRS)  # chosen by which exists
    dependencies: list[PackageLayout] = []
    missing: list[str] = []
    for entry in manifest.packages if manifest is not None else ():
        folder = entry.location(root.root, packages_dir)
        config_files.update(str(folder / n) for n in (LAKEFILE_LEAN, LAKEFILE_TOML))
        found = lakefile_in(folder) if is_dir(folder) else None
        if found is None:
            missing.append(entry.name)
            notes.append(
                diagnostic(
                    Code.MISSING_PACKAGE,
                    Severity.WARNING,
                    f"dependency {entry.name} is not at {folder} (run `lake update` or `lake exe cache get`); "
                    "its modules are unknown",
                    manifest_path,
                )
            )
            continue
        dep_config, _ = read_package_config(found)
        notes.extend(_quiet(dep_config.diagnostics))
        dependencies.append(PackageLayout(entry.name, folder, dep_config))
    if manifest is None and config.requires:
        notes.append(
            diagnostic(
                Code.MISSING_PACKAGE,
                Severity.WARNING,
                f"the lakefile requires {', '.join(r.name for r in config.requires)} but there is no "
                f"{MANIFEST} (run `lake update`); those packages' modules are unknown",
                root.lakefile,
            )
        )
    return Workspace(
        root=root,
        config=config,
        layout=PackageLayout(config.name, root.root, config),
        toolchain=toolchain,
        manifest=manifest,
        packages_dir=packages_dir,
        dependencies=tuple(dependencies),
        missing=tuple(missing),
        lakefile_digest=hashlib.sha256(lakefile_bytes).hexdigest(),
        manifest_digest=None if isinstance(manifest_bytes, FileProblem) else hashlib.sha256(manifest_bytes).hexdigest(),
        config_files=frozenset(config_files),
        config_digest=config_digest(frozenset(config_files)),
        diagnostics=tuple(notes),
    )


def keeping_config(workspace: Workspace, previous: Workspace) -> Workspace:
    """The new workspace with the previous usable lakefile configuration: a lakefile caught
    half-edited (or unreadable) reports its error without emptying the model."""
    note = diagnostic(
        Code.LAKEFILE_PARSE_ERROR,
        Severity.WARNING,
        "the lakefile cannot be read as a whole; its libraries and executables are kept from its last "
        "readable version until it is fixed",
        workspace.root.lakefile,
    )
    config = previous.config
    return replace(
        workspace,
        config=config,
        layout=PackageLayout(config.name, workspace.root.root, config),
        diagnostics=(*workspace.diagnostics, note),
    )
