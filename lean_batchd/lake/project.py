"""The Lake project model: every module, its header, resolution, digests, kept current.

`discover` builds it; `update(paths)` applies file changes in time proportional
to the change (the watcher's path); `rescan()` finds changes itself using the
stat cache (after a watcher overflow). Both return a `ModelChange`, and both
leave the model equal to what a fresh discovery would build.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .config import LeanConfig
from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .fingerprint import ProjectFingerprint, SourceSetDigest
from .graph import Module, ModuleGraph, Resolution, ResolutionKind
from .layout import Claim, PackageLayout, name_diagnostics
from .libraries import LibraryModules, library_sets
from .names import CORE_ROOTS, components, is_prefix
from .options import LeanOptions, effective_options
from .root import LakeRoot, RootSearch, find_lake_root, lakefile_in
from .source import SourceFile, StatCache, StatKey, read_source, stat_key
from .workspace import Workspace, WorkspaceOptions, config_digest, load_workspace


@dataclass(frozen=True, slots=True)
class ProjectOptions:
    only_roots: tuple[str, ...] | None = None
    """`--roots`: discover only the modules under these module roots."""
    workspace: WorkspaceOptions = field(default_factory=WorkspaceOptions)


@dataclass(frozen=True, slots=True)
class ModelChange:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    header_changed: tuple[str, ...] = ()
    body_changed: tuple[str, ...] = ()
    config_changed: bool = False
    """The lakefile, manifest or toolchain changed, so libraries were re-evaluated."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.header_changed or self.body_changed or self.config_changed)

    def to_json(self) -> dict[str, object]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "header_changed": list(self.header_changed),
            "body_changed": list(self.body_changed),
            "config_changed": self.config_changed,
        }


@dataclass(slots=True)
class _Pending:
    name: str
    package: str
    library: str | None
    exe: str | None
    source: SourceFile


def discover(
    path: Path | str, options: ProjectOptions = ProjectOptions(), cache: StatCache | None = None
) -> LakeProject | RootSearch:
    """The project `path` belongs to, or the failed search (with a `missing-lake-root` diagnostic)."""
    search = find_lake_root(Path(path))
    if search.found is None:
        return search
    return LakeProject(search.found, options, cache, search.diagnostics)


class LakeProject:
    def __init__(
        self,
        root: LakeRoot,
        options: ProjectOptions = ProjectOptions(),
        cache: StatCache | None = None,
        search_notes: tuple[Diagnostic, ...] = (),
    ) -> None:
        self.root = root
        self.options = options
        self.cache = cache if cache is not None else StatCache()
        self._search_notes = search_notes
        self._build()

    # -- building -----------------------------------------------------------

    def _build(self) -> None:
        with _gc_paused():
            self._build_model()

    def _build_model(self) -> None:
        self.root = lakefile_in(self.root.root) or self.root  # a lakefile.lean added later wins, as in Lake
        workspace = load_workspace(self.root, self.options.workspace)
        previous: Workspace | None = getattr(self, "workspace", None)
        if not workspace.config.usable and previous is not None:
            workspace = _keeping(workspace, previous)
        self.workspace: Workspace = workspace
        self.layout: PackageLayout = self.workspace.layout
        self._search_order = (self.layout, *self.workspace.dependencies)
        """`Workspace.findModule?` tries `ws.packages` in order: the root first, then the packages in
        require order, which is the order Lake writes them to the manifest (`writeManifest`)."""
        self.graph = ModuleGraph(core_salt=self.workspace.toolchain.identity)
        self._walked: set[str] = set()
        """Names whose module is one of the root package's own files (the local modules)."""
        self._claims: dict[str, list[Claim]] = {}
        """Path -> every claim on that file (each library whose file it is, an executable's root)."""
        self._claimants: dict[str, list[Claim]] = {}
        """Module name -> every claim naming it (files in several libraries' folders included)."""
        self._local_order: list[str] | None = None
        self._by_path: dict[str, set[str]] = {}
        self._local = SourceSetDigest()
        self._reached = SourceSetDigest()
        self._newest: int | None = 0
        """Newest local source mtime; None when a removal may have lowered it."""
        self._journal: dict[str, Module | None] | None = None
        self._libraries: tuple[list[LibraryModules], dict[str, tuple[str, ...]]] | None = None
        self._read_notes: dict[str, Diagnostic] = {}
        self._options: dict[tuple[str, LeanConfig | None], LeanOptions] = {}
        self._findings: dict[str, tuple[Module, list[Diagnostic]]] = {}
        """Each module's own findings, kept while its `Module` value is the same object (an
        update replaces the value), so project-wide diagnostics after an edit cost O(edit)."""
        warm = len(self.cache) > 0
        claims, self._walk_notes = self.layout.walk(self.options.only_roots, with_stat=warm)
        paths = sorted({c.path: c.key for c in claims}.items())
        if warm:
            sources = [self.cache.load(path, key, self.display(path)) for path, key in paths]
        else:
            sources = self.cache.load_many([(path, self.display(path)) for path, _ in paths])
        readable: dict[str, SourceFile] = {}
        for (path, _), source in zip(paths, sources, strict=True):
            if isinstance(source, Diagnostic):
                self._read_notes[path] = source
            else:
                readable[path] = source
        for claim in claims:
            if claim.path in readable:
                self._add_claim(claim)
        pending: list[_Pending] = []
        for name in sorted(self._claimants):
            home = self._home(name)
            if home is not None:
                self._walked.add(name)
                pending.append(_Pending(name, self.layout.name, home.library, home.exe, readable[home.path]))
        self._drain(pending)

    def _add_claim(self, claim: Claim) -> None:
        self._claims.setdefault(claim.path, []).append(claim)
        self._claimants.setdefault(claim.module, []).append(claim)

    def _drop_claims(self, path: str) -> list[Claim]:
        gone = self._claims.pop(path, [])
        for claim in gone:
            rest = [c for c in self._claimants.get(claim.module, ()) if c.path != path]
            if rest:
                self._claimants[claim.module] = rest
            else:
                self._claimants.pop(claim.module, None)
        return gone

    def _home(self, name: str) -> Claim | None:
        """The file the model holds as module `name`: the one its imports resolve to (the owner's,
        `Package.findModule?`); for a module no library can build, the executable whose root it is
        (`Package.findModuleBySrc?` tries executables after libraries), else the last-declared
        library whose file it is (an orphan by construction: nothing can import or build it)."""
        claims = self._claimants.get(name)
        if not claims:
            return None
        owner = self.layout.owner(name)
        if owner is not None:  # a library's claim on `name` is its file for `name`: the owner's file
            return next((c for c in claims if c.library == owner.lib.name), None)
        exe = next((c for c in claims if c.exe is not None), None)
        if exe is not None:
            return exe
        by_name = self.layout.by_name
        return max(
            (c for c in claims if c.library is not None), key=lambda c: by_name[c.library or ""].index, default=None
        )

    def _drain(self, pending: list[_Pending]) -> None:
        """Resolve and insert queued modules; resolving may queue dependency modules.

        A name resolves the same way throughout one drain, so answers are memoised:
        Mathlib has 35,000 imports of 8,500 modules."""
        queued = {p.name: p for p in pending}
        memo: dict[str, Resolution] = {}
        while pending:
            item = pending.pop()
            resolutions = []
            for imp in item.source.header.imports:
                r = memo.get(imp.module)
                if r is None:
                    r = memo[imp.module] = self._resolve(imp.module, pending, queued)
                resolutions.append(r)
            self._put(Module(item.name, item.package, item.library, item.exe, item.source, tuple(resolutions)))
            queued.pop(item.name, None)

    def _resolve(self, name: str, pending: list[_Pending], queued: dict[str, _Pending]) -> Resolution:
        """Lake's `Workspace.findModule?`: the first package (ours first) with a library that can
        build `name`, and in it the last-declared such library (`Package.findModule?`)."""
        for package in self._search_order:
            owner = package.owner(name)
            if owner is None:
                continue
            is_root = package is self.layout
            kind = ResolutionKind.LOCAL if is_root else ResolutionKind.PACKAGE
            known = self.graph.get(name)
            meta = queued.get(name)
            held = known or meta
            # A module is only ever held from its owner's file (`_home`, and loads below), so the
            # owner's library and package identify that file without building its path.
            if held is not None and (held.package, held.library) == (package.name, owner.lib.name):
                return Resolution(kind, package.name, owner.lib.name, held.source.shown)
            path = owner.file_of(name)
            if not (is_root and self.options.only_roots is None) and held is None:
                try:
                    key: StatKey | None = stat_key(os.stat(path))
                except (OSError, ValueError):
                    key = None
                if key is not None:
                    source = self.cache.load(path, key, self.display(path))
                    if isinstance(source, SourceFile):
                        item = _Pending(name, package.name, owner.lib.name, None, source)
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
        if name in self._walked:
            reason = (
                "its file is in this package, but no library's roots and globs make it buildable, and "
                "Lake resolves imports only to buildable library modules (an executable's root is not one)"
            )
        else:
            reason = "no library of this package or of its dependencies claims it"
        if self.workspace.missing:  # named once, in the missing-package warnings, not per import
            reason += " (some dependencies are not on disk: see missing-package)"
        return Resolution(ResolutionKind.UNRESOLVED, reason=reason)

    def _import_target(self, name: str) -> str | None:
        """The file an import of `name` reaches among those the model holds (no loading)."""
        for package in self._search_order:
            owner = package.owner(name)
            if owner is None:
                continue
            known = self.graph.get(name)
            path = owner.file_of(name)
            return path if known is not None and known.path == path else None
        return None

    def _put(self, module: Module) -> None:
        name = module.name
        old = self.graph.get(name)
        if self._journal is not None:
            self._journal.setdefault(name, old)
        if old is not None:
            self._account(old, remove=True)
        self.graph.put(module)
        self._account(module, remove=False)
        self._libraries = None

    def _remove(self, name: str) -> None:
        old = self.graph.get(name)
        if old is None:
            return
        if self._journal is not None:
            self._journal.setdefault(name, old)
        self._account(old, remove=True)
        self.graph.remove(name)
        self._findings.pop(name, None)
        self._walked.discard(name)
        self._local_order = None
        self._libraries = None

    def _account(self, module: Module, remove: bool) -> None:
        local = module.name in self._walked
        digest = self._local if local else self._reached
        shown = module.source.shown
        if local and self._newest is not None:
            mtime = module.source.key[0]
            if not remove:
                self._newest = max(self._newest, mtime)
            elif mtime >= self._newest:
                self._newest = None
        if remove:
            digest.remove(module.name, shown, module.digest)
            names = self._by_path.get(module.path)
            if names is not None:
                names.discard(module.name)
                if not names:
                    del self._by_path[module.path]
        else:
            digest.add(module.name, shown, module.digest)
            self._by_path.setdefault(module.path, set()).add(module.name)

    # -- changes ------------------------------------------------------------

    def update(self, paths: Iterable[Path | str]) -> ModelChange:
        """Apply changes at `paths` (files or folders, created, edited or deleted)."""
        absolute = [os.path.abspath(p) for p in paths]
        if any(p in self.workspace.config_files for p in absolute):
            return self._reload()
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
        with _gc_paused():
            return self._apply_files(files)

    def _apply_files(self, files: Iterable[str]) -> ModelChange:
        """Two passes: every changed file's claims first, then the home of every name they
        touch, so a rename (old and new path in one batch) never sees a half-applied state."""
        self._journal = {}
        pending: list[_Pending] = []
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
        self, path: str, touched: set[str], fresh: dict[str, SourceFile], pending: list[_Pending], appeared: set[str]
    ) -> None:
        exists = os.path.lexists(path) and not os.path.isdir(path)
        old_claims = self._drop_claims(path)
        old = {n: self.graph.modules[n] for n in self._by_path.get(path, ())}
        claims = self._local_claims(Path(path)) if exists else []
        source: SourceFile | None = None
        if exists and (claims or old or self._wanted_dependency(Path(path))):
            read = read_source(path, self.display(path))
            if isinstance(read, Diagnostic):
                self._read_notes[path] = read
                exists, claims = False, []
            else:
                self._read_notes.pop(path, None)
                self.cache.put(read)
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
                pending.append(_Pending(name, module.package, module.library, module.exe, source))
            else:
                self._remove(name)
        if source is not None and not claims and not old:
            for name, package, library in self._dependency_entries(Path(path)):
                appeared.add(name)
                pending.append(_Pending(name, package, library, None, source))

    def _rehome(self, name: str, fresh: dict[str, SourceFile], pending: list[_Pending], appeared: set[str]) -> None:
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
        pending.append(_Pending(name, self.layout.name, home.library, home.exe, source))

    def _source_at(self, path: str) -> SourceFile | None:
        """A claimed file's last reading (claims are only kept for files read successfully)."""
        known = self.cache.peek(path)
        if known is not None:
            return known
        read = read_source(path, self.display(path))
        if isinstance(read, Diagnostic):
            return None
        self.cache.put(read)
        return read

    def _local_claims(self, path: Path) -> list[Claim]:
        claims = self.layout.claims_at(path)
        roots = self.options.only_roots
        if roots is not None:
            claims = [c for c in claims if any(is_prefix(r, c.module) for r in roots)]
        return claims

    def _dependency_entries(self, path: Path) -> list[tuple[str, str, str]]:
        """A new file in a dependency matters only when something already imports its module."""
        out = []
        for package in self._search_order[1:]:
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
            pending: list[_Pending] = []
            for name in sorted(touched):
                for importer in sorted(self.graph.importers(name)):
                    module = self.graph.modules.get(importer)
                    if module is None:
                        continue
                    queued: dict[str, _Pending] = {}
                    resolutions = tuple(self._resolve(i.module, pending, queued) for i in module.imports)
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
        dropped = False
        while candidates:
            name = min(candidates)
            candidates.discard(name)
            if name not in self.graph or name in self._walked:
                continue
            orphaned = self._unreached_group(name)
            for gone in sorted(orphaned):
                module = self.graph.get(gone)
                if module is not None:
                    self._remove(gone)
                    candidates |= set(module.edges) - orphaned
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

    def _reload(self) -> ModelChange:
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
            return self._reload()
        claims, self._walk_notes = self.layout.walk(self.options.only_roots)
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
        if not changed:
            return ModelChange()
        return self._apply(changed)

    # -- queries ------------------------------------------------------------

    def display(self, path: str) -> str:
        """Paths as users see them: relative to the project root when inside it."""
        root = str(self.root.root)
        if path == root:
            return "."
        if path.startswith(root + os.sep):
            return path[len(root) + 1 :]
        return path

    @property
    def name(self) -> str:
        return self.layout.name

    def local_modules(self) -> list[Module]:
        """The project's own modules, sorted (the order is cached until a module comes or goes)."""
        if self._local_order is None or len(self._local_order) != len(self._walked):
            self._local_order = sorted(self._walked)
        modules = self.graph.modules
        return [modules[n] for n in self._local_order if n in modules]

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
        layout = next((p for p in self._search_order if p.name == module.package), self.layout)
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
        return [i.module for i in source.header.imports if self._import_target(i.module) is not None]

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
        out.extend(self._clash_findings())
        for module in self.local_modules():
            cached = self._findings.get(module.name)
            if cached is None or cached[0] is not module:
                cached = self._findings[module.name] = (module, self._module_findings(module))
            out.extend(cached[1])
        out.extend(self._cycle_findings())
        return self._shown(out)

    def _has_file(self, target: str, module: str) -> bool:
        return any(target in (c.library, c.exe) for c in self._claimants.get(module, ()))

    def _any_module(self, root: str) -> bool:
        return any(is_prefix(root, m) for m in self._walked)

    def _clash_findings(self) -> list[Diagnostic]:
        """A library's file whose module name resolves to another file (same name, another
        library's source folder): imports never reach it, though its own library may build it."""
        out = []
        modules = self.graph.modules
        for name, claims in self._claimants.items():
            if len(claims) == 1 and (held := modules.get(name)) is not None and held.path == claims[0].path:
                continue
            home = self._home(name)
            for claim in claims:
                if claim.library is None or (home is not None and claim.path == home.path):
                    continue
                owner = self.layout.owner(name)
                if owner is None:
                    if home is None or home.exe is not None:
                        continue
                    target = f"library {home.library}'s file {self.display(home.path)} (no library can build it)"
                else:
                    target = f"library {owner.lib.name}'s file {self.display(owner.file_of(name))}"
                    if home is None:
                        target += ", which does not exist"
                lib = self.layout.by_name[claim.library].lib
                builds = any(g.matches(name) for g in lib.globs)
                out.append(
                    diagnostic(
                        Code.DUPLICATE_MODULE,
                        Severity.WARNING,
                        f"this file is module {name} of library {claim.library}, but the model holds {target} "
                        f"as {name}, where imports of it resolve (Lake's Package.findModule?)"
                        + (f"; `lake build {claim.library}` builds this copy too" if builds else ""),
                        claim.path,
                    )
                )
        return out

    def module_diagnostics(self, name: str) -> list[Diagnostic]:
        """What concerns one module (for an editor showing one file): O(its header), not O(project)."""
        module = self.graph.get(name)
        if module is None:
            return []
        cycles = [d for d in self._cycle_findings() if d.path == module.source.shown]
        return self._shown(self._module_findings(module) + cycles)

    def _module_findings(self, module: Module) -> list[Diagnostic]:
        out = name_diagnostics(module.name, module.source.shown) + list(module.header.diagnostics)
        severity = Severity.WARNING if self.workspace.missing else Severity.ERROR
        found = zip(module.imports, module.resolutions, strict=True)
        unresolved = {i.offset: (i, r) for i, r in found if r.kind is ResolutionKind.UNRESOLVED}
        if not unresolved:
            return out
        for imp, at in zip(module.imports, module.header.positions(), strict=True):
            if imp.offset in unresolved:
                message = f"cannot resolve import {imp.module}: {unresolved[imp.offset][1].reason}"
                out.append(
                    diagnostic(Code.UNRESOLVED_IMPORT, severity, message, module.source.shown, at.line, at.column)
                )
        return out

    def _cycle_findings(self) -> list[Diagnostic]:
        out = []
        for cycle in self.graph.cycles():
            first = self.graph.modules[cycle[0]]
            target = cycle[1] if len(cycle) > 1 else cycle[0]
            place = next((first.header.position(i) for i in first.imports if i.module == target), None)
            out.append(
                diagnostic(
                    Code.IMPORT_CYCLE,
                    Severity.ERROR,
                    "import cycle: " + " → ".join((*cycle, cycle[0])),
                    first.source.shown,
                    place.line if place else None,
                    place.column if place else None,
                )
            )
        return out

    def _shown(self, found: list[Diagnostic]) -> list[Diagnostic]:
        shown = {replace(d, path=self.display(d.path)) if d.path else d for d in found}
        return sorted(shown, key=lambda d: (d.path or "", d.line or 0, d.column or 0, d.code, d.message))


def _keeping(workspace: Workspace, previous: Workspace) -> Workspace:
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building allocates ~100,000 acyclic objects at Mathlib scale; the cyclic collector
    would scan them repeatedly for nothing (20% of a cold discovery, measured)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
