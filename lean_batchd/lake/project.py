"""The Lake project model: every module, its header, resolution, digests, kept current.

`discover` builds it; `LakeProject` answers what the planner, the engine and
the reports ask of it (modules, libraries, options, fingerprints, diagnostics);
its state is `project_state`, how that state is kept current `project_updates`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .config import LeanConfig
from .diagnostics import Diagnostic
from .findings import clash_findings, cycle_findings, header_findings, module_findings, shown
from .fingerprint import ProjectFingerprint
from .graph import Module
from .header import parse_header_text
from .inputs import ModelInputs, probe, settled
from .layout import PackageLayout
from .libraries import LibraryModules, library_sets
from .names import is_prefix
from .options import LeanOptions, effective_options
from .project_state import ModelChange, ProjectOptions
from .project_updates import ProjectUpdates
from .root import RootSearch, find_lake_root
from .source import StatCache

__all__ = ["LakeProject", "ModelChange", "ProjectOptions", "discover"]

_DEFAULT_OPTIONS = ProjectOptions()


def discover(
    path: Path | str, options: ProjectOptions = _DEFAULT_OPTIONS, cache: StatCache | None = None
) -> LakeProject | RootSearch:
    """The project `path` belongs to, or the failed search (with a `missing-lake-root` diagnostic)."""
    search = find_lake_root(Path(path))
    if search.found is None:
        return search
    return LakeProject(search.found, options, cache, search.diagnostics)


class LakeProject(ProjectUpdates):
    """The model as its users see it (its state: `ProjectState`; its updates: `ProjectUpdates`)."""

    @property
    def name(self) -> str:
        return self.layout.name

    def local_modules(self) -> list[Module]:
        """The project's own modules, sorted (the order is cached until a module comes or goes)."""
        if self._local_order is None or len(self._local_order) != len(self._walked):
            self._local_order = sorted(self._walked)
        modules = self.graph.modules
        return [modules[n] for n in self._local_order if n in modules]

    def modules_under(self, path: Path) -> list[Module]:
        """The project's own modules whose files are `path` or lie under it (a resolved path):
        what `check PATH` elaborates and `plan PATH` plans."""
        return [m for m in self.local_modules() if Path(m.path).is_relative_to(path)]

    def is_local(self, name: str) -> bool:
        return name in self._walked

    def modules_at(self, path: Path | str) -> list[Module]:
        """The modules the file at `path` is, the one Lake's `Package.findModuleBySrc?` picks first
        (the last-declared library that can build it, then an executable's root), then the rest."""
        modules = [self.graph.modules[n] for n in self._by_path.get(os.path.abspath(path), ())]
        index = {layout.lib.name: layout.index for layout in self.layout.libs}

        def rank(m: Module) -> tuple[int, int, str]:
            if m.package != self.layout.name:
                return (3, 0, m.name)
            owner = self.layout.owner(m.name)
            if owner is not None and owner.lib.name == m.library:
                return (0, -index[owner.lib.name], m.name)
            return (1 if m.exe is not None else 2, 0, m.name)

        return sorted(modules, key=rank)

    def libraries(self) -> list[LibraryModules]:
        """Each declared library's selected, built and orphan modules (Lake's rules for that library alone)."""
        return self._library_sets()[0]

    def built_by(self, name: str) -> tuple[str, ...]:
        """The libraries whose `lake build` builds the file the model holds as `name`."""
        return self._library_sets()[1].get(name, ())

    def _library_sets(self) -> tuple[list[LibraryModules], dict[str, tuple[str, ...]]]:
        if self._libraries is None:
            self._libraries = library_sets(
                self.layout.libs,
                (c for claims in self._claims.values() for c in claims),
                self._held_path,
                self._imports_of,
                self.display,
                lambda lib: self._effective(self.layout, lib.lean),
            )
        return self._libraries

    def lean_options(self, name: str) -> LeanOptions | None:
        """The Lean options module `name` is elaborated with, as Lake would pass them (None for a
        module the model does not hold). A module of a library gets its owner's (the library
        imports and the editor reach: `Package.findModule?`, `findModuleBySrc?`); an executable's
        root, its executable's (`LeanExe.toLeanLib`); a file no library can build, its package's
        own (what `lake lean` and `lake env lean` use for files outside libraries)."""
        module = self.graph.get(name)
        if module is None:
            return None
        layout = next((p for p in self._resolver.search_order if p.name == module.package), self.layout)
        owner = layout.owner(name)
        if owner is not None and owner.lib.name == module.library:
            return self._effective(layout, owner.lib.lean)
        exe = next((e.exe for e in layout.exes if e.exe.name == module.exe), None)
        return self._effective(layout, exe.lean if exe is not None else None)

    def _effective(self, layout: PackageLayout, target: LeanConfig | None) -> LeanOptions:
        key = (layout.name, target)
        found = self._options.get(key)
        if found is None:
            found = self._options[key] = effective_options(layout.config.lean, target)
        return found

    def _held_path(self, name: str) -> str | None:
        """The file the model holds as `name`: where an import of it leads, when it leads anywhere
        (edges only name resolved modules, and a selected module is buildable, so owned)."""
        module = self.graph.modules.get(name)
        return None if module is None else module.path

    def _imports_of(self, name: str, path: str) -> Iterable[str]:
        """The modules the file at `path` imports that resolve to files the model holds."""
        module = self.graph.get(name)
        if module is not None and module.path == path:
            return module.edges
        source = self.cache.peek(path)
        if source is None:
            return ()
        return [i.module for i in source.header.imports if self._resolver.target(i.module, self.graph) is not None]

    def inputs(self) -> ModelInputs | None:
        """What the model was built from, as its last walk saw it, so that a later run can tell
        by `stat` alone that a rescan would change nothing. None when some of it cannot be
        vouched for: the model changed since by other means (a watcher), a file could not be
        read, the walk had problems, or a timestamp is within the racy window."""
        if self._seen is None or self._read_notes or self._walk_notes:
            return None
        walked, started = self._seen
        if any(key is not None and not settled(key, started) for _, key in walked):
            return None
        stats = list(walked)
        for path in self._claims.keys() | self._by_path.keys():  # every file read: claimed or imported
            source = self.cache.peek(path)
            if source is None or not source.trusted_for(source.key):
                return None
            stats.append((path, source.key))
        for path in self._missing_files():  # a rescan looks for these too
            if probe(path) is not None:
                return None
            stats.append((path, None))
        ws = self.workspace
        return ModelInputs(
            str(self.root.root),
            tuple(stats),
            ws.config_files,
            ws.config_digest,
            ws.toolchain.lean_version,
            self.options.workspace.query_lean_version,
        )

    def fingerprint(self) -> ProjectFingerprint:
        if self._newest is None:
            modules = self.graph.modules
            self._newest = max((modules[n].source.key[0] for n in self._walked if n in modules), default=0)
        return ProjectFingerprint(
            toolchain=self.workspace.toolchain.identity,
            lakefile_digest=self.workspace.lakefile_digest,
            manifest_digest=self.workspace.manifest_digest,
            source_count=self._local.count,
            source_max_mtime_ns=self._newest,
            source_digest=self._local.hexdigest(),
            dependency_digest=self._reached.hexdigest(),
        )

    def diagnostics(self) -> list[Diagnostic]:
        """Everything found, project-wide (paths relative to the root where inside it)."""
        out = list(self._search_notes) + list(self.workspace.diagnostics) + list(self._walk_notes)
        out.extend(self._read_notes.values())
        out.extend(self.layout.missing_roots(self._has_file, self._any_module, self.options.only_roots))
        out.extend(clash_findings(self._claimants, self.graph.modules, self.layout, self._home, self.display))
        missing = bool(self.workspace.missing)
        for module in self.local_modules():
            cached = self._findings.get(module.name)
            if cached is None or cached[0] is not module:
                cached = self._findings[module.name] = (module, module_findings(module, missing))
            out.extend(cached[1])
        out.extend(cycle_findings(self.graph))
        return shown(out, self.display)

    def _has_file(self, target: str, module: str) -> bool:
        return any(target in (c.library, c.exe) for c in self._claimants.get(module, ()))

    def _any_module(self, root: str) -> bool:
        return any(is_prefix(root, m) for m in self._walked)

    def buffer_diagnostics(self, path: str, text: str) -> list[Diagnostic]:
        """An editor's unsaved text for `path`: its header's diagnostics as a save would give
        them, its imports resolved as Lake would, and nothing put into the model."""
        shown_path = self.display(path)
        header = parse_header_text(text, shown_path)
        resolutions = [self._resolver.resolve(i.module, self.graph, self._walked, [], {}) for i in header.imports]
        return shown(header_findings(header, resolutions, shown_path, bool(self.workspace.missing)), self.display)

    def module_diagnostics(self, name: str) -> list[Diagnostic]:
        """What concerns one module (for an editor showing one file): O(its header), not O(project)."""
        module = self.graph.get(name)
        if module is None:
            return []
        cycles = [d for d in cycle_findings(self.graph) if d.path == module.source.shown]
        return shown(module_findings(module, bool(self.workspace.missing)) + cycles, self.display)
