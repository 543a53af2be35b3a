"""The project model's state: every module with its claims, resolutions and digests, built
from a walk of the package's libraries, and the bookkeeping that keeps its digests and
indexes consistent as modules come and go. `ProjectUpdates` (project_updates.py) keeps it
current; `LakeProject` (project.py) answers queries over it.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .config import LeanConfig
from .diagnostics import Diagnostic
from .fingerprint import SourceSetDigest
from .graph import Module, ModuleGraph, Resolution
from .inputs import StatKey
from .layout import Claim, PackageLayout
from .libraries import LibraryModules
from .options import LeanOptions
from .resolution import ImportResolver, Pending
from .root import LakeRoot, lakefile_in
from .source import SourceFile, StatCache
from .workspace import Workspace, WorkspaceOptions, keeping_config, load_workspace


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


class ProjectState:
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
        with gc_paused():
            self._build_model()

    def _build_model(self) -> None:
        self.root = lakefile_in(self.root.root) or self.root  # a lakefile.lean added later wins, as in Lake
        workspace = load_workspace(self.root, self.options.workspace)
        previous: Workspace | None = getattr(self, "workspace", None)
        if not workspace.config.usable and previous is not None:
            workspace = keeping_config(workspace, previous)
        self.workspace: Workspace = workspace
        self.layout: PackageLayout = self.workspace.layout
        self._resolver = ImportResolver(
            (self.layout, *self.workspace.dependencies),
            self.cache,
            self.display,
            only_roots=self.options.only_roots is not None,
            packages_missing=bool(self.workspace.missing),
        )
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
        started, seen = time.time_ns(), list[tuple[str, StatKey | None]]()
        claims, self._walk_notes = self.layout.walk(self.options.only_roots, with_stat=warm, seen=seen)
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
        pending: list[Pending] = []
        for name in sorted(self._claimants):
            home = self._home(name)
            if home is not None:
                self._walked.add(name)
                pending.append(Pending(name, self.layout.name, home.library, home.exe, readable[home.path]))
        self._drain(pending)
        self._seen: tuple[tuple[tuple[str, StatKey | None], ...], int] | None = (tuple(seen), started)
        """What the last walk saw (`LakeProject.inputs`) and when it began; None once the model
        changed by other means than a walk (a watcher's events)."""

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

    def _drain(self, pending: list[Pending]) -> None:
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
                    r = memo[imp.module] = self._resolver.resolve(imp.module, self.graph, self._walked, pending, queued)
                resolutions.append(r)
            self._put(Module(item.name, item.package, item.library, item.exe, item.source, tuple(resolutions)))
            queued.pop(item.name, None)

    def _put(self, module: Module) -> None:
        name = module.name
        old = self.graph.get(name)
        if self._journal is not None:
            self._journal.setdefault(name, old)
        newest = self._newest
        if old is not None:
            self._account(old, remove=True)
        self.graph.put(module)
        self._account(module, remove=False)
        local = name in self._walked
        if local and old is not None and newest is not None and module.source.key[0] >= old.source.key[0]:
            self._newest = max(newest, module.source.key[0])  # a newer copy: no module was newer
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

    def set_search_notes(self, notes: tuple[Diagnostic, ...]) -> None:
        """What finding the root said this time (a model opened again from a store was found from
        another path)."""
        self._search_notes = notes

    def display(self, path: str) -> str:
        """Paths as users see them: relative to the project root when inside it."""
        root = str(self.root.root)
        if path == root:
            return "."
        if path.startswith(root + os.sep):
            return path[len(root) + 1 :]
        return path


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building allocates ~100,000 acyclic objects at Mathlib scale; the cyclic collector
    would scan them repeatedly for nothing (20% of a cold discovery, measured)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
