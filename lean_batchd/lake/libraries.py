"""What each library selects, builds and leaves unbuilt, each computed for that library alone.

Lake's rules, from its source:
- *Selection* (`LeanLib.getModuleArray`): every glob runs over the library's own
  source folder (`Glob.forEachModuleIn`) and every module found is kept,
  whoever else claims it. Two libraries with the same glob both select it.
- *Closure* (`LeanLib.recCollectLocalModules`): from the selected modules, follow
  imports as the package resolves them (`Module.recParseImports` ->
  `findModule?`) for as long as the imported module is local to *this*
  library (`isLocalModule`). An imported module is the one its owner (the
  last-declared library that can build it) holds.
- *Orphans* (our word): files of a library that no library builds.

Lake's walk (`recCollectLocalModules.go`) marks a module seen by name; when a
library selects its own copy of a module whose imports resolve to another
library's file (same name, other source folder), Lake builds whichever copy
its directory order reaches first. We take the selected copy, always, and the
model reports the clash as `duplicate-module`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .config import LeanLib
from .layout import Claim, LibraryLayout
from .options import LeanOptions


@dataclass(frozen=True, slots=True)
class LibraryModules:
    library: LeanLib
    base: str
    selected: tuple[str, ...]
    """Modules its globs select in its own source folder (files that exist)."""
    built: tuple[str, ...]
    """What `lake build` of the library builds: the selected modules and their local imports."""
    orphans: tuple[str, ...]
    """Its files (under its roots and globs) that no library builds."""
    options: LeanOptions = ()
    """The Lean options its modules are elaborated with (`options.effective_options`)."""


def library_sets(
    libs: Iterable[LibraryLayout],
    claims: Iterable[Claim],
    module_path: Callable[[str], str | None],
    imports_of: Callable[[str, str], Iterable[str]],
    display: Callable[[str], str],
    options: Callable[[LeanLib], LeanOptions],
) -> tuple[list[LibraryModules], dict[str, tuple[str, ...]]]:
    """Each library's sets, and for each module the model holds, the libraries that build its file.

    `module_path(name)`: the file an import of `name` reaches (None when it reaches none);
    `imports_of(name, path)`: the modules the file at `path` (as module `name`) imports that
    resolve to files the model holds."""
    layouts = list(libs)
    own: dict[str, dict[str, str]] = {layout.lib.name: {} for layout in layouts}
    for claim in claims:
        if claim.library is not None and claim.library in own:
            own[claim.library].setdefault(claim.module, claim.path)
    built_files: set[str] = set()
    built_by: dict[str, list[str]] = {}
    sets: list[tuple[LibraryLayout, tuple[str, ...], dict[str, str]]] = []
    for layout in layouts:
        lib = layout.lib
        files = own[lib.name]
        selected = tuple(sorted(n for n in files if any(g.matches(n) for g in lib.globs)))
        visited = {n: files[n] for n in selected}
        stack = list(selected)
        while stack:
            name = stack.pop()
            for target in imports_of(name, visited[name]):
                if target in visited or not lib.is_local(target):
                    continue
                path = module_path(target)
                if path is not None:
                    visited[target] = path
                    stack.append(target)
        for name, path in visited.items():
            built_files.add(path)
            if module_path(name) == path:
                built_by.setdefault(name, []).append(lib.name)
        sets.append((layout, selected, visited))
    out = []
    for layout, selected, visited in sets:
        files = own[layout.lib.name]
        orphans = tuple(sorted(n for n, p in files.items() if p not in built_files))
        out.append(
            LibraryModules(
                layout.lib,
                display(str(layout.base)),
                selected,
                tuple(sorted(visited)),
                orphans,
                options(layout.lib),
            )
        )
    return out, {n: tuple(libs_) for n, libs_ in built_by.items()}
