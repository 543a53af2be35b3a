"""The Lake model: roots, lakefiles, modules, headers, imports, toolchain, fingerprints.

Static and Lean-free: everything here is read from files with Lake's own
rules. It knows nothing of workers, plans or editors.

Names are loaded on first use (PEP 562): a command that needs one light module of this
layer (`inputs`, to answer from the store) does not pay for the parsers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Glob, GlobKind, LeanExe, LeanLib, PackageConfig, Require
    from .diagnostics import Code, Diagnostic, Severity
    from .fingerprint import ProjectFingerprint
    from .graph import Module, Resolution, ResolutionKind
    from .header import Header, Import, Position, parse_header, parse_header_text
    from .libraries import LibraryModules
    from .project import LakeProject, ModelChange, ProjectOptions, discover
    from .root import ConfigKind, LakeRoot, RootSearch, find_lake_root
    from .source import SourceFile, StatCache
    from .toolchain import Toolchain, ToolchainKind
    from .workspace import WorkspaceOptions

_HOMES = {
    "Code": "diagnostics",
    "ConfigKind": "root",
    "Diagnostic": "diagnostics",
    "Glob": "config",
    "GlobKind": "config",
    "Header": "header",
    "Import": "header",
    "LakeProject": "project",
    "LakeRoot": "root",
    "LeanExe": "config",
    "LeanLib": "config",
    "LibraryModules": "libraries",
    "ModelChange": "project",
    "Module": "graph",
    "PackageConfig": "config",
    "Position": "header",
    "ProjectFingerprint": "fingerprint",
    "ProjectOptions": "project",
    "Require": "config",
    "Resolution": "graph",
    "ResolutionKind": "graph",
    "RootSearch": "root",
    "Severity": "diagnostics",
    "SourceFile": "source",
    "StatCache": "source",
    "Toolchain": "toolchain",
    "ToolchainKind": "toolchain",
    "WorkspaceOptions": "workspace",
    "discover": "project",
    "find_lake_root": "root",
    "parse_header": "header",
    "parse_header_text": "header",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Code",
    "ConfigKind",
    "Diagnostic",
    "Glob",
    "GlobKind",
    "Header",
    "Import",
    "LakeProject",
    "LakeRoot",
    "LeanExe",
    "LeanLib",
    "LibraryModules",
    "ModelChange",
    "Module",
    "PackageConfig",
    "Position",
    "ProjectFingerprint",
    "ProjectOptions",
    "Require",
    "Resolution",
    "ResolutionKind",
    "RootSearch",
    "Severity",
    "SourceFile",
    "StatCache",
    "Toolchain",
    "ToolchainKind",
    "WorkspaceOptions",
    "discover",
    "find_lake_root",
    "parse_header",
    "parse_header_text",
]
