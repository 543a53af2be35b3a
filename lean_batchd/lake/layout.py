"""Where a package's modules live on disk, and which library each file belongs to.

Lake's rules, each from the Lake source named:
- a library's files are under `pkg.dir / pkg.srcDir / lib.srcDir` (`LeanLib.srcDir`);
- a file belongs to a library when its module is local to it, under a root or
  matched by a glob (`LeanLibConfig.isLocalModule`); several libraries may
  claim one file, and each claim is kept, because what a library selects and
  builds does not depend on the others (`LeanLib.getModuleArray`);
- an import resolves to the last-declared library that can build the module
  (`Package.findModule?`: `leanLibs.findSomeRev?` over `isBuildableModule`),
  and an executable's root is buildable but never importable
  (`Package.findTargetModule?`, `LeanExe.isRoot?`).
Lake walks every folder below a glob or root; we skip hidden folders and the
package's build and package folders, which hold no sources of its own.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .config import GlobKind, LeanExe, LeanLib, PackageConfig
from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .files import is_dir
from .inputs import StatKey, probe, stat_key
from .names import (
    component_problem,
    components,
    escape_part,
    is_prefix,
    module_from_relpath,
    module_relpath,
    render,
)

LEGACY_SKIPPED = ("build", "lake-packages", "lean_packages")


def join(base: Path, rel: PurePosixPath) -> Path:
    """Lake's `FilePath.join`: an absolute right side replaces the left."""
    return Path(os.path.normpath(base / rel))


@dataclass(frozen=True, slots=True)
class LibraryLayout:
    lib: LeanLib
    base: Path
    index: int
    """Declaration order in the lakefile (later declarations win import resolution)."""
    folder: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", str(self.base))

    def path_of(self, module: str) -> Path:
        return self.base / module_relpath(module)

    def file_of(self, module: str) -> str:
        """`path_of` as a string, without building a `Path` (the resolver's hot path)."""
        *folders, last = components(module)
        return os.path.join(self.folder, *folders, last + ".lean")


@dataclass(frozen=True, slots=True)
class ExeLayout:
    exe: LeanExe
    path: Path


@dataclass(frozen=True, slots=True)
class Claim:
    """A file that is `module` of `library` (local to it, under its source folder) or the root of `exe`."""

    module: str
    path: str
    library: str | None
    exe: str | None
    key: StatKey | None = None
    """None when the walk was asked not to stat (a cold start reads every file anyway)."""

    def __reduce__(self) -> tuple[type[Claim], tuple[object, ...]]:
        """Pickled as its constructor call: a stored model loads twice as fast as from dataclass state."""
        return (Claim, (self.module, self.path, self.library, self.exe, self.key))


class PackageLayout:
    """The module layout of one package, derived from its config alone (no file contents)."""

    def __init__(self, name: str, folder: Path, config: PackageConfig) -> None:
        self.name = name
        self.dir = folder
        self.config = config
        src = join(folder, config.src_dir)
        self.libs = tuple(LibraryLayout(lib, join(src, lib.src_dir), i) for i, lib in enumerate(config.libs))
        self.by_name = {layout.lib.name: layout for layout in self.libs}
        self._owners: dict[str, LibraryLayout | None] = {}
        self.exes = tuple(ExeLayout(exe, join(src, exe.src_dir) / module_relpath(exe.root)) for exe in config.exes)
        packages = config.packages_dir or PurePosixPath(".lake/packages")
        self.skipped = frozenset(
            [join(folder, config.build_dir), join(folder, packages)] + [folder / n for n in LEGACY_SKIPPED]
        )

    def owner(self, module: str) -> LibraryLayout | None:
        """The library an import of `module` resolves to: the last declared that can build it
        (`Package.findModule?`). Memoised: the layout's config never changes."""
        try:
            return self._owners[module]
        except KeyError:
            pass
        found = next((layout for layout in reversed(self.libs) if layout.lib.is_buildable(module)), None)
        self._owners[module] = found
        return found

    def claims_at(self, path: Path) -> list[Claim]:
        """Every claim on a `.lean` file at `path` (for incremental updates): the walk's rule, for one file."""
        out: list[Claim] = []
        for layout in self.libs:
            try:
                rel = path.relative_to(layout.base)
            except ValueError:
                continue
            if not rel.parts or any(p.startswith(".") for p in rel.parts[:-1]) or self._skipped(path):
                continue
            module = module_from_relpath(rel.parts)
            if layout.lib.is_local(module):
                out.append(Claim(module, str(path), layout.lib.name, None))
        for exe in self.exes:
            if exe.path == path:
                out.append(Claim(exe.exe.root, str(path), None, exe.exe.name))
        return out

    def homes_at(self, path: Path) -> list[tuple[str, str]]:
        """(module, library) for each module whose imports resolve to the file at `path`."""
        out = []
        for claim in self.claims_at(path):
            owner = self.owner(claim.module) if claim.library is not None else None
            if owner is not None and owner.lib.name == claim.library:
                out.append((claim.module, claim.library))
        return out

    def _skipped(self, path: Path) -> bool:
        return any(path.is_relative_to(s) for s in self.skipped)

    def walk(
        self,
        only_roots: tuple[str, ...] | None = None,
        with_stat: bool = True,
        seen: list[tuple[str, StatKey | None]] | None = None,
    ) -> tuple[list[Claim], list[Diagnostic]]:
        """Every claim on the package's files: each library's files (one claim per library, so a
        file two libraries select is claimed twice) and its executables' roots, sorted. `seen`
        collects what `stat` said of each folder listed and path probed, before it was used
        (`inputs.ModelInputs`)."""
        found: dict[tuple[str, str, str | None], Claim] = {}
        notes: list[Diagnostic] = []
        listing_cache: dict[Path, list[tuple[str, str, StatKey | None]]] = {}
        for layout in self.libs:
            lib = layout.lib
            for rel_dir, walk, with_file in _walk_targets(lib):
                if only_roots is not None and not any(_related(r, rel_dir) for r in only_roots):
                    continue
                folder = layout.base.joinpath(*rel_dir)
                if walk and folder not in listing_cache:
                    listing_cache[folder] = list(self._scan(folder, notes, with_stat, seen))
                listing = listing_cache[folder] if walk else []
                base_name = render(rel_dir)
                entries = [(f"{base_name}.{rel}", path, key) for rel, path, key in listing]
                if with_file:
                    single = layout.base.joinpath(*rel_dir[:-1], rel_dir[-1] + ".lean")
                    single_key = _probe(str(single), seen)
                    if single_key is not None:
                        entries.append((base_name, str(single), single_key if with_stat else None))
                for module, path, key in entries:
                    if not lib.is_local(module):
                        continue
                    if only_roots is not None and not any(is_prefix(r, module) for r in only_roots):
                        continue
                    found.setdefault((module, path, lib.name), Claim(module, path, lib.name, None, key))
        for exe in self.exes:
            module = exe.exe.root
            if only_roots is not None and not any(is_prefix(r, module) for r in only_roots):
                continue
            key = _probe(str(exe.path), seen)
            if key is None:
                continue
            found[(module, str(exe.path), None)] = Claim(module, str(exe.path), None, exe.exe.name, key)
        return sorted(found.values(), key=lambda c: (c.module, c.path, c.library or "", c.exe or "")), notes

    def config_path_hint(self) -> str:
        return str(self.dir / ("lakefile." + str(self.config.kind)))

    def missing_roots(
        self,
        has_file: Callable[[str, str], bool],
        any_module: Callable[[str], bool],
        only_roots: tuple[str, ...] | None,
    ) -> Iterator[Diagnostic]:
        """Roots and globs naming modules that have no file. `has_file(target, module)`: does the
        library or executable `target` have its file for `module`; `any_module(root)`: is anything
        under a `--roots` entry."""
        for root in only_roots or ():
            if not any_module(root):
                yield diagnostic(
                    Code.MISSING_MODULE_ROOT,
                    Severity.ERROR,
                    f"module root {root} (from --roots) has no module file in any library of {self.name}",
                    self.config_path_hint(),
                )
        for exe in self.exes:
            if only_roots is None and not has_file(exe.exe.name, exe.exe.root):
                yield diagnostic(
                    Code.MISSING_MODULE_ROOT,
                    Severity.WARNING,
                    f"lean_exe {exe.exe.name}: its root {exe.exe.root} has no file at {exe.path}",
                    self.config_path_hint(),
                    exe.exe.line,
                    0,
                )
        for layout in self.libs:
            lib = layout.lib
            if "legacy" in lib.dynamic_fields and not any_module(lib.name):
                continue
            for glob in lib.globs:
                if only_roots is not None and not any(_related(r, components(glob.name)) for r in only_roots):
                    continue
                folder = layout.base.joinpath(*components(glob.name))
                if glob.kind is GlobKind.SUBMODULES and not is_dir(folder):
                    yield diagnostic(
                        Code.MISSING_MODULE_ROOT,
                        Severity.ERROR,
                        f"lean_lib {lib.name}: glob {glob.render()} needs the folder {folder}, which does not exist",
                        self.config_path_hint(),
                        lib.line,
                        0,
                    )
                elif (
                    glob.kind is not GlobKind.SUBMODULES
                    and (only_roots is None or any(is_prefix(r, glob.name) for r in only_roots))
                    and not has_file(lib.name, glob.name)
                ):  # with `--roots`, a glob's own module outside them was never looked for
                    yield diagnostic(
                        Code.MISSING_MODULE_ROOT,
                        Severity.WARNING,
                        f"lean_lib {lib.name}: module {glob.name} (selected by glob {glob.render()}) "
                        f"has no file at {layout.path_of(glob.name)}",
                        self.config_path_hint(),
                        lib.line,
                        0,
                    )

    def _scan(
        self, top: Path, notes: list[Diagnostic], with_stat: bool, seen: list[tuple[str, StatKey | None]] | None
    ) -> Iterator[tuple[str, str, StatKey | None]]:
        """`.lean` files below `top` (a folder, else nothing) as (module name relative to `top`,
        path, stat key).

        Follows symbolic links without looping; folder names are rendered and
        checked once per folder, not once per file."""
        try:
            st = top.stat()
        except (OSError, ValueError):
            if seen is not None:
                seen.append((str(top), None))
            return
        if seen is not None:
            seen.append((str(top), stat_key(st)))
        if not stat.S_ISDIR(st.st_mode):
            return
        stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [(str(top), "", frozenset({(st.st_dev, st.st_ino)}))]
        while stack:
            folder, prefix, ancestors = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as e:
                notes.append(diagnostic(Code.IO_ERROR, Severity.WARNING, f"cannot list folder: {e.strerror}", folder))
                continue
            for entry in entries:
                name = entry.name
                if not name.isascii() and not _utf8(name):
                    notes.append(
                        diagnostic(
                            Code.INVALID_MODULE_NAME,
                            Severity.WARNING,
                            f"file name {os.fsencode(name)!r} is not UTF-8; Lean cannot name it as a module",
                            folder,
                        )
                    )
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    if seen is not None:
                        seen.append((entry.path, probe(entry.path)))
                    continue
                if is_dir:
                    if name.startswith(".") or Path(entry.path) in self.skipped:
                        continue
                    try:
                        dst = entry.stat()
                    except OSError as e:
                        notes.append(
                            diagnostic(Code.IO_ERROR, Severity.WARNING, f"cannot enter: {e.strerror}", entry.path)
                        )
                        continue
                    if seen is not None:
                        seen.append((entry.path, stat_key(dst)))
                    ident = (dst.st_dev, dst.st_ino)
                    if ident in ancestors:
                        notes.append(
                            diagnostic(Code.IO_ERROR, Severity.INFO, "symbolic link loop; not followed", entry.path)
                        )
                        continue
                    part = escape_part(name)
                    stack.append((entry.path, f"{prefix}.{part}" if prefix else part, ancestors | {ident}))
                elif seen is not None and not name.endswith(".lean") and entry.is_symlink():
                    seen.append((entry.path, probe(entry.path)))  # a dangling link's target may come
                elif name.endswith(".lean"):
                    key = None
                    if with_stat:
                        try:
                            key = stat_key(entry.stat())
                        except OSError as e:
                            notes.append(
                                diagnostic(Code.IO_ERROR, Severity.WARNING, f"cannot stat: {e.strerror}", entry.path)
                            )
                            continue
                    part = escape_part(name[: -len(".lean")])
                    yield (f"{prefix}.{part}" if prefix else part), entry.path, key


def _probe(path: str, seen: list[tuple[str, StatKey | None]] | None) -> StatKey | None:
    key = probe(path)
    if seen is not None:
        seen.append((path, key))
    return key


def _walk_targets(lib: LeanLib) -> list[tuple[tuple[str, ...], bool, bool]]:
    """(relative component path, walk the folder?, count the `X.lean` beside it?) per root and glob."""
    targets: dict[tuple[str, ...], tuple[bool, bool]] = {}
    for root in lib.roots:
        targets[components(root)] = (True, True)
    for glob in lib.globs:
        parts = components(glob.name)
        walk, single = targets.get(parts, (False, False))
        targets[parts] = (walk or glob.kind is not GlobKind.ONE, single or glob.kind is not GlobKind.SUBMODULES)
    return sorted((parts, walk, single) for parts, (walk, single) in targets.items())


def _related(root: str, parts: tuple[str, ...]) -> bool:
    """Does a `--roots` entry overlap the module tree at `parts`?"""
    r = components(root)
    n = min(len(r), len(parts))
    return r[:n] == parts[:n]


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def name_diagnostics(module: str, shown: str) -> list[Diagnostic]:
    """Warn about module names Lake accepts but that are awkward or impossible to import."""
    out = []
    for part in components(module):
        problem = component_problem(part)
        if problem is not None:
            quiet = "`«»`" in problem
            severity = Severity.INFO if quiet else Severity.WARNING
            message = f"module {module}: `{part}` has {problem}"
            out.append(diagnostic(Code.INVALID_MODULE_NAME, severity, message, shown))
    return out
