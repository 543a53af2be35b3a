"""Import resolution as Lake does it: `Workspace.findModule?` over the workspace's packages.

An import goes to the first package (the root first, then the packages in
require order, which is the manifest's order) with a library that can build
it, and there to the last-declared such library (`Package.findModule?`). A
module reached in a dependency is loaded (queued for the model) the first time
an import reaches it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .graph import ModuleGraph, Resolution, ResolutionKind
from .inputs import StatKey, stat_key
from .layout import PackageLayout
from .names import CORE_ROOTS, components
from .source import SourceFile, StatCache


@dataclass(slots=True)
class Pending:
    """A module waiting to be resolved and put into the graph."""

    name: str
    package: str
    library: str | None
    exe: str | None
    source: SourceFile


class ImportResolver:
    def __init__(
        self,
        search_order: tuple[PackageLayout, ...],
        cache: StatCache,
        display: Callable[[str], str],
        only_roots: bool,
        packages_missing: bool,
    ) -> None:
        self.search_order = search_order
        """`Workspace.findModule?` tries `ws.packages` in order: the root first, then the packages in
        require order, which is the order Lake writes them to the manifest (`writeManifest`)."""
        self.root = search_order[0]
        self.cache = cache
        self.display = display
        self.only_roots = only_roots
        """With `--roots`, the root package's modules outside them are loaded as imports reach them."""
        self.packages_missing = packages_missing

    def resolve(
        self, name: str, graph: ModuleGraph, walked: set[str], pending: list[Pending], queued: dict[str, Pending]
    ) -> Resolution:
        """Lake's `Workspace.findModule?`: the first package (ours first) with a library that can
        build `name`, and in it the last-declared such library (`Package.findModule?`)."""
        for package in self.search_order:
            owner = package.owner(name)
            if owner is None:
                continue
            is_root = package is self.root
            kind = ResolutionKind.LOCAL if is_root else ResolutionKind.PACKAGE
            known = graph.get(name)
            meta = queued.get(name)
            held = known or meta
            # A module is only ever held from its owner's file (`_home`, and loads below), so the
            # owner's library and package identify that file without building its path.
            if held is not None and (held.package, held.library) == (package.name, owner.lib.name):
                return Resolution(kind, package.name, owner.lib.name, held.source.shown)
            path = owner.file_of(name)
            if not (is_root and not self.only_roots) and held is None:
                try:
                    key: StatKey | None = stat_key(os.stat(path))
                except (OSError, ValueError):
                    key = None
                if key is not None:
                    source = self.cache.load(path, key, self.display(path))
                    if isinstance(source, SourceFile):
                        item = Pending(name, package.name, owner.lib.name, None, source)
                        pending.append(item)
                        queued[name] = item
                        return Resolution(kind, package.name, owner.lib.name, self.display(path))
            return Resolution(
                ResolutionKind.UNRESOLVED,
                package.name,
                owner.lib.name,
                self.display(path),
                f"library {owner.lib.name} of package {package.name} claims it, "
                f"but there is no file at {self.display(path)}",
            )
        if components(name)[0] in CORE_ROOTS:
            return Resolution(ResolutionKind.CORE, package="lean4")
        if name in walked:
            reason = (
                "its file is in this package, but no library's roots and globs make it buildable, and "
                "Lake resolves imports only to buildable library modules (an executable's root is not one)"
            )
        else:
            reason = "no library of this package or of its dependencies claims it"
        if self.packages_missing:  # named once, in the missing-package warnings, not per import
            reason += " (some dependencies are not on disk: see missing-package)"
        return Resolution(ResolutionKind.UNRESOLVED, reason=reason)

    def target(self, name: str, graph: ModuleGraph) -> str | None:
        """The file an import of `name` reaches among those the graph holds (no loading)."""
        for package in self.search_order:
            owner = package.owner(name)
            if owner is None:
                continue
            known = graph.get(name)
            path = owner.file_of(name)
            return path if known is not None and known.path == path else None
        return None
