"""The Lake model: roots, lakefiles, modules, headers, imports, toolchain, fingerprints.

Static and Lean-free: everything here is read from files with Lake's own
rules. It knows nothing of workers, plans or editors.
"""

from .config import ConfigKind, Glob, GlobKind, LeanExe, LeanLib, PackageConfig, Require
from .diagnostics import Code, Diagnostic, Severity
from .fingerprint import ProjectFingerprint
from .graph import Module, Resolution, ResolutionKind
from .header import Header, Import, Position, parse_header, parse_header_text
from .libraries import LibraryModules
from .project import LakeProject, ModelChange, ProjectOptions, discover
from .root import LakeRoot, RootSearch, find_lake_root
from .source import SourceFile, StatCache
from .toolchain import Toolchain, ToolchainKind
from .workspace import WorkspaceOptions

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
