"""The package configuration Lake would evaluate, as plain values.

Both lakefile readers (TOML and the Lean DSL) produce a `PackageConfig`; the
rest of the model never knows which file it came from. Only the fields that
decide module membership are interpreted (`srcDir`, `roots`, `globs`, exe
`root`); everything else is kept as text so users see what was ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from .diagnostics import Diagnostic
from .names import is_prefix
from .root import ConfigKind

# Keys Lake knows, by table; anything else is kept and warned about.
LEAN_CONFIG_KEYS = frozenset(
    [
        "buildType",
        "backend",
        "leanOptions",
        "moreLeanArgs",
        "weakLeanArgs",
        "moreLeancArgs",
        "weakLeancArgs",
        "moreLinkArgs",
        "weakLinkArgs",
        "moreLinkObjs",
        "moreLinkLibs",
        "moreServerOptions",
        "moreServerArgs",
        "moreGlobalServerArgs",
        "platformIndependent",
        "dynlibs",
        "plugins",
        "precompileModules",
    ]
)
PACKAGE_KEYS = LEAN_CONFIG_KEYS | frozenset(
    [
        "name",
        "version",
        "versionTags",
        "description",
        "keywords",
        "homepage",
        "license",
        "licenseFiles",
        "readmeFile",
        "reservoir",
        "defaultTargets",
        "srcDir",
        "buildDir",
        "leanLibDir",
        "nativeLibDir",
        "binDir",
        "irDir",
        "packagesDir",
        "testDriver",
        "testRunner",
        "testDriverArgs",
        "lintDriver",
        "lintDriverArgs",
        "extraDepTargets",
        "releaseRepo",
        "buildArchive",
        "preferReleaseBuild",
        "enableArtifactCache",
        "restoreAllArtifacts",
        "fixedToolchain",
        "allowImportAll",
        "libPrefixOnWindows",
        "bootstrap",
        "lean_lib",
        "lean_exe",
        "require",
        "input_file",
        "input_dir",
        "scripts",
    ]
)
# Fields of the package built-in library of Lake before `lean_lib` existed.
LEGACY_PACKAGE_KEYS = frozenset(
    ["libRoots", "libGlobs", "libName", "defaultFacet", "binRoot", "binName", "oleanDir", "moreLibTargets"]
)
LIB_KEYS = LEAN_CONFIG_KEYS | frozenset(
    [
        "name",
        "srcDir",
        "roots",
        "globs",
        "libName",
        "defaultFacets",
        "nativeFacets",
        "needs",
        "extraDepTargets",
        "allowImportAll",
        "libPrefixOnWindows",
    ]
)
EXE_KEYS = LEAN_CONFIG_KEYS | frozenset(
    ["name", "srcDir", "root", "exeName", "supportInterpreter", "needs", "extraDepTargets", "nativeFacets"]
)
REQUIRE_KEYS = frozenset(["name", "scope", "version", "rev", "git", "path", "source", "subDir", "options"])


HERE = PurePosixPath(".")
DEFAULT_BUILD_DIR = PurePosixPath(".lake/build")


class GlobKind(StrEnum):
    ONE = "one"
    SUBMODULES = "submodules"
    AND_SUBMODULES = "andSubmodules"


@dataclass(frozen=True, slots=True, order=True)
class Glob:
    """Lake's `Glob`: `X` (one), `X.+` (submodules only), `X.*` (X and submodules)."""

    kind: GlobKind
    name: str

    def matches(self, module: str) -> bool:
        if self.kind is GlobKind.ONE:
            return module == self.name
        if self.kind is GlobKind.SUBMODULES:
            return module != self.name and is_prefix(self.name, module)
        return is_prefix(self.name, module)

    def render(self) -> str:
        suffix = {GlobKind.ONE: "", GlobKind.SUBMODULES: ".+", GlobKind.AND_SUBMODULES: ".*"}
        return self.name + suffix[self.kind]


OptionValue = bool | int | str
"""Lean's `LeanOptionValue`: a Bool, a Nat or a String."""


class BuildType(StrEnum):
    """Lake's `BuildType`, in its order (a library builds at the minimum of its and its package's)."""

    DEBUG = "debug"
    REL_WITH_DEB_INFO = "relWithDebInfo"
    MIN_SIZE_REL = "minSizeRel"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class LeanConfig:
    """The fields of Lake's `LeanConfig` that change how Lean elaborates a module, as written
    (a package's, a library's or an executable's; `options.effective_options` combines them)."""

    lean_options: tuple[tuple[str, OptionValue], ...] = ()
    """`leanOptions` in declaration order (a later entry for the same name wins)."""
    more_lean_args: tuple[str, ...] = ()
    weak_lean_args: tuple[str, ...] = ()
    build_type: BuildType | None = None
    """None when not written (Lake's default, `release`)."""


@dataclass(frozen=True, slots=True)
class LeanLib:
    name: str
    src_dir: PurePosixPath
    """Relative to the package's source directory (Lake joins pkg.dir / pkg.srcDir / lib.srcDir)."""
    roots: tuple[str, ...]
    globs: tuple[Glob, ...]
    lib_name: str
    default_target: bool = False
    dynamic_fields: tuple[str, ...] = ()
    """Fields whose value needs Lean to evaluate; Lake's default was used in their place."""
    line: int | None = None
    extra: tuple[tuple[str, str], ...] = ()
    lean: LeanConfig = LeanConfig()

    def is_local(self, module: str) -> bool:
        """Lake's `isLocalModule`: under a root, or selected by a glob."""
        return any(is_prefix(r, module) for r in self.roots) or any(g.matches(module) for g in self.globs)

    def is_buildable(self, module: str) -> bool:
        """Lake's `isBuildableModule`."""
        if any(g.matches(module) for g in self.globs):
            return True
        return any(is_prefix(r, module) and any(g.matches(r) for g in self.globs) for r in self.roots)


@dataclass(frozen=True, slots=True)
class LeanExe:
    name: str
    root: str
    src_dir: PurePosixPath
    exe_name: str
    default_target: bool = False
    dynamic_fields: tuple[str, ...] = ()
    line: int | None = None
    lean: LeanConfig = LeanConfig()


class RequireKind(StrEnum):
    GIT = "git"
    PATH = "path"
    RESERVOIR = "reservoir"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Require:
    name: str
    scope: str = ""
    kind: RequireKind = RequireKind.RESERVOIR
    url: str | None = None
    path: str | None = None
    rev: str | None = None
    version: str | None = None
    sub_dir: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "scope": self.scope,
            "kind": str(self.kind),
            "url": self.url,
            "path": self.path,
            "rev": self.rev,
            "version": self.version,
            "sub_dir": self.sub_dir,
        }


@dataclass(frozen=True, slots=True)
class PackageConfig:
    name: str
    kind: ConfigKind
    src_dir: PurePosixPath = HERE
    build_dir: PurePosixPath = DEFAULT_BUILD_DIR
    packages_dir: PurePosixPath | None = None
    default_targets: tuple[str, ...] = ()
    libs: tuple[LeanLib, ...] = ()
    exes: tuple[LeanExe, ...] = ()
    requires: tuple[Require, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    lean: LeanConfig = LeanConfig()
    dynamic_fields: tuple[str, ...] = ()
    """Package fields whose value needs Lean to evaluate (of those read: the `LeanConfig` ones)."""
    legacy: bool = False
    """No `lean_lib` was declared; a library rooted at the package name was assumed."""
    usable: bool = True
    """False when the file could not be read as a whole (unreadable, not a regular file, too
    large, not valid TOML, an unterminated Lean comment or string, nesting past Lean's limits):
    Lake would load no configuration at all, so the model keeps its last usable one."""
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)


def default_globs(roots: tuple[str, ...]) -> tuple[Glob, ...]:
    return tuple(Glob(GlobKind.ONE, r) for r in roots)


def mangle_lib_name(components: tuple[str, ...]) -> str:
    """Lake's default `libName`: `Name.mangle ""` (`_` doubled, other symbols as `_xXX`/`_uXXXX`)."""

    def part(text: str) -> str:
        out = []
        for c in text:
            if c.isascii() and c.isalnum():
                out.append(c)
            elif c == "_":
                out.append("__")
            elif ord(c) < 0x100:
                out.append(f"_x{ord(c):02x}")
            elif ord(c) < 0x10000:
                out.append(f"_u{ord(c):04x}")
            else:
                out.append(f"_U{ord(c):08x}")
        return "".join(out)

    return "_".join(part(c) for c in components)


def normalize_path(path: str) -> PurePosixPath:
    """A join-ready path with `.` components dropped (Lake joins with `FilePath.join`)."""
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")
