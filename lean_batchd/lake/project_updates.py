"""Keeping the project model current: file changes applied in time proportional to the change
(`update`, the watcher's path), and changes found by the model itself (`rescan`, after a
watcher overflow or when a stored model is opened again; `reload`, when the configuration
changed). Each returns a `ModelChange` and leaves the state equal to what a fresh build gives.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Iterable
from pathlib import Path

from .diagnostics import Diagnostic
from .graph import Module, ModuleGraph, ResolutionKind
from .inputs import StatKey, config_digest, stat_key
from .layout import Claim
from .names import is_prefix
from .project_state import ModelChange, ProjectState, gc_paused
from .resolution import Pending
from .source import SourceFile


class ProjectUpdates(ProjectState):
    def update(self, paths: Iterable[Path | str]) -> ModelChange:
        """Apply changes at `paths` (files or folders, created, edited or deleted)."""
        absolute = [os.path.abspath(p) for p in paths]
        if any(p in self.workspace.config_files for p in absolute):
            return self.reload()
        files: set[str] = set()
        for p in absolute:
            if os.path.isdir(p):
                files.update(self._lean_files_under(p))
            elif p.endswith(".lean") or p in self._by_path:
                files.add(p)
            if not p.endswith(".lean"):
                prefix = p.rstrip(os.sep) + os.sep
                files.update(q for q in self._by_path if q.startswith(prefix))
                files.update(q for q in self._claims if q.startswith(prefix))
        return self._apply(files)

    def _lean_files_under(self, folder: str) -> list[str]:
        out: list[str] = []
        for parent, dirs, names in os.walk(folder, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            out.extend(os.path.join(parent, n) for n in names if n.endswith(".lean"))
        return out

    def _apply(self, files: Iterable[str]) -> ModelChange:
        self._seen = None
        with gc_paused():
            return self._apply_files(files)

    def _apply_files(self, files: Iterable[str]) -> ModelChange:
        """Two passes: every changed file's claims first, then the home of every name they
        touch, so a rename (old and new path in one batch) never sees a half-applied state."""
        self._journal = {}
        pending: list[Pending] = []
        appeared: set[str] = set()
        touched: set[str] = set()
        fresh: dict[str, SourceFile] = {}
        for path in sorted(files):
            self._refresh_file(path, touched, fresh, pending, appeared)
        for name in sorted(touched):
            self._rehome(name, fresh, pending, appeared)
        self._libraries = None
        self._drain(pending)
        self._settle(appeared)
        journal, self._journal = self._journal, None
        return _change(journal, self.graph)

    def _refresh_file(
        self, path: str, touched: set[str], fresh: dict[str, SourceFile], pending: list[Pending], appeared: set[str]
    ) -> None:
        # A folder is no file, except at a module's own path: there, as on a fresh walk, it is a
        # file that cannot be read (an `io-error`), not a module that went away.
        exists = os.path.lexists(path) and (path.endswith(".lean") or not os.path.isdir(path))
        old_claims = self._drop_claims(path)
        old = {n: self.graph.modules[n] for n in self._by_path.get(path, ())}
        claims = self._local_claims(Path(path)) if exists else []
        source: SourceFile | None = None
        if exists and (claims or old or self._wanted_dependency(Path(path))):
            read = self.cache.read(path, self.display(path))
            if isinstance(read, Diagnostic):
                self._read_notes[path] = read
                exists, claims = False, []
            else:
                self._read_notes.pop(path, None)
                source = fresh[path] = read
        else:
            self._read_notes.pop(path, None)
        if not exists:
            self.cache.drop(path)
        for claim in claims:
            self._add_claim(claim)
        touched.update(c.module for c in old_claims)
        touched.update(c.module for c in claims)
        for name, module in old.items():
            if name in self._walked:
                touched.add(name)
            elif source is not None:
                pending.append(Pending(name, module.package, module.library, module.exe, source))
            else:
                self._remove(name)
        if source is not None and not claims and not old:
            for name, package, library in self._dependency_entries(Path(path)):
                appeared.add(name)
                pending.append(Pending(name, package, library, None, source))

    def _rehome(self, name: str, fresh: dict[str, SourceFile], pending: list[Pending], appeared: set[str]) -> None:
        """Make the graph hold `name`'s home file (or drop it), after its claims changed."""
        module = self.graph.get(name)
        if module is not None and name not in self._walked:
            return
        home = self._home(name)
        if home is None:
            if module is not None:
                self._remove(name)
            return
        source = fresh.get(home.path)
        if source is None:
            if module is not None and (module.path, module.library, module.exe) == (home.path, home.library, home.exe):
                return
            source = self._source_at(home.path)
            if source is None:
                if module is not None:
                    self._remove(name)
                return
        if module is None:
            appeared.add(name)
        if name not in self._walked:
            self._local_order = None
        self._walked.add(name)
        pending.append(Pending(name, self.layout.name, home.library, home.exe, source))

    def _source_at(self, path: str) -> SourceFile | None:
        """A claimed file's last reading (claims are only kept for files read successfully)."""
        known = self.cache.peek(path)
        if known is not None:
            return known
        read = self.cache.read(path, self.display(path))
        return None if isinstance(read, Diagnostic) else read

    def _local_claims(self, path: Path) -> list[Claim]:
        claims = self.layout.claims_at(path)
        roots = self.options.only_roots
        if roots is not None:
            claims = [c for c in claims if any(is_prefix(r, c.module) for r in roots)]
        return claims

    def _dependency_entries(self, path: Path) -> list[tuple[str, str, str]]:
        """A new file in a dependency matters only when something already imports its module."""
        out = []
        for package in self._resolver.search_order[1:]:
            for name, library in package.homes_at(path):
                if name not in self.graph and self.graph.importers(name):
                    out.append((name, package.name, library))
        return out

    def _wanted_dependency(self, path: Path) -> bool:
        return bool(self._dependency_entries(path))

    def _settle(self, appeared: set[str]) -> None:
        """Re-resolve importers of modules that came or went; drop dependency modules nothing reaches."""
        assert self._journal is not None
        while True:
            touched = {n for n, old in self._journal.items() if (old is None) != (n not in self.graph)} | appeared
            appeared = set()
            pending: list[Pending] = []
            for name in sorted(touched):
                for importer in sorted(self.graph.importers(name)):
                    module = self.graph.modules.get(importer)
                    if module is None:
                        continue
                    queued: dict[str, Pending] = {}
                    resolutions = tuple(
                        self._resolver.resolve(i.module, self.graph, self._walked, pending, queued)
                        for i in module.imports
                    )
                    if resolutions != module.resolutions:
                        self._put(
                            Module(module.name, module.package, module.library, module.exe, module.source, resolutions)
                        )
                        self._journal[importer] = self._journal.get(importer, module)
            self._drain(pending)
            dropped = self._collect_garbage()
            if not pending and not dropped:
                return

    def _collect_garbage(self) -> bool:
        """Drop dependency modules no local module reaches any more (a fresh discovery
        would never load them). A reverse walk over importers stops at the first
        local module, so the usual case costs one step; only an orphaned group is
        walked in full, and then removed whole (cycles included)."""
        assert self._journal is not None
        candidates = {n for n in self._journal if n not in self._walked}
        candidates |= {e for old in self._journal.values() if old is not None for e in old.edges}
        queue = sorted(candidates)  # a heap: smallest name first, a fixed order (`min` per step was quadratic)
        dropped = False
        while queue:
            name = heapq.heappop(queue)
            candidates.discard(name)
            if name not in self.graph or name in self._walked:
                continue
            orphaned = self._unreached_group(name)
            for gone in sorted(orphaned):
                module = self.graph.get(gone)
                if module is not None:
                    self._remove(gone)
                    for edge in set(module.edges) - orphaned - candidates:
                        candidates.add(edge)
                        heapq.heappush(queue, edge)
                    dropped = True
        return dropped

    def _unreached_group(self, name: str) -> set[str]:
        """Everything that imports `name`, transitively, if no local module is among it; else nothing."""
        seen = {name}
        stack = [name]
        while stack:
            for importer in self.graph.importers(stack.pop()):
                if importer in seen or importer not in self.graph:
                    continue
                if importer in self._walked:
                    return set()
                seen.add(importer)
                stack.append(importer)
        return seen

    def reload(self) -> ModelChange:
        """Re-evaluate the configuration and rebuild (reading only files the stat cache cannot vouch for)."""
        before = dict(self.graph.modules)
        state = dict(vars(self))
        try:
            self._build()
        except BaseException:
            vars(self).clear()  # a bug must not leave a half-built model behind: restore, then raise
            vars(self).update(state)
            raise
        journal: dict[str, Module | None] = {n: before.get(n) for n in set(before) | set(self.graph.modules)}
        change = _change(journal, self.graph)
        return ModelChange(change.added, change.removed, change.header_changed, change.body_changed, True)

    def rescan(self) -> ModelChange:
        """Find and apply every change since the last look (stat cache; re-reads only what changed)."""
        if config_digest(self.workspace.config_files) != self.workspace.config_digest:
            return self.reload()
        started, stats = time.time_ns(), list[tuple[str, StatKey | None]]()
        claims, self._walk_notes = self.layout.walk(self.options.only_roots, seen=stats)
        changed: set[str] = set()
        seen: set[str] = set()
        for claim in claims:
            seen.add(claim.path)
            if claim.path not in self._claims or claim.key is None or self.cache.get(claim.path, claim.key) is None:
                changed.add(claim.path)
        changed.update(path for path in self._claims if path not in seen)
        for path, names in self._by_path.items():
            if path in seen or path in changed or any(n in self._walked for n in names):
                continue
            try:
                key = stat_key(os.stat(path))
            except (OSError, ValueError):
                changed.add(path)
                continue
            if self.cache.get(path, key) is None:
                changed.add(path)
        changed |= set(self._read_notes)
        changed.update(p for p in self._missing_files() if os.path.isfile(p))
        change = self._apply(changed) if changed else ModelChange()
        self._seen = (tuple(stats), started)
        return change

    def _missing_files(self) -> list[str]:
        """Files that imports name but that were missing: a dependency's (a watcher reports them
        as they come; a rescan must look for them itself), or this package's outside the walked
        folders (`--roots`)."""
        root = str(self.root.root)
        out = []
        for module in self.graph.modules.values():
            for r in module.resolutions:
                if r.kind is ResolutionKind.UNRESOLVED and r.path is not None:
                    out.append(os.path.join(root, r.path))
        return out


def _change(journal: dict[str, Module | None], graph: ModuleGraph) -> ModelChange:
    added, removed, header, body = [], [], [], []
    for name in sorted(journal):
        old, new = journal[name], graph.get(name)
        if old is None and new is not None:
            added.append(name)
        elif old is not None and new is None:
            removed.append(name)
        elif old is not None and new is not None:
            if old.header_digest != new.header_digest or old.resolutions != new.resolutions:
                header.append(name)
            elif old.digest != new.digest or old.path != new.path:
                body.append(name)
    return ModelChange(tuple(added), tuple(removed), tuple(header), tuple(body))
