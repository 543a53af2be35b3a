"""The import graph: modules, resolved edges, closures, closure digests and cycles.

It is kept incrementally: replacing one module touches only its own edges
and forgets the closure digests of the modules that (transitively) import it,
which are recomputed on demand. Closure digests are a Merkle DAG over content
digests: a module's changes when its own bytes change or anything it imports,
directly or not, changes. Cycles are handled by strongly connected
components, so the digest never depends on the order modules were visited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .header import Header, Import
from .source import SourceFile


class ResolutionKind(StrEnum):
    LOCAL = "local"
    PACKAGE = "package"
    CORE = "core"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class Resolution:
    kind: ResolutionKind
    package: str | None = None
    library: str | None = None
    path: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": str(self.kind)}
        for key in ("package", "library", "path", "reason"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @property
    def is_module(self) -> bool:
        """Does the import name a module this model holds (local or from a package)?"""
        return self.kind in _MODULE_KINDS

    def __reduce__(self) -> tuple[type[Resolution], tuple[object, ...]]:
        """Pickled as its constructor call: a stored model loads twice as fast as from dataclass state."""
        return (Resolution, (self.kind, self.package, self.library, self.path, self.reason))


_MODULE_KINDS = frozenset({ResolutionKind.LOCAL, ResolutionKind.PACKAGE})


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    package: str
    library: str | None
    exe: str | None
    source: SourceFile
    resolutions: tuple[Resolution, ...]
    """One per header import, in header order."""
    edges: tuple[str, ...] = field(init=False, compare=False, repr=False)
    """Imported modules this model holds, sorted and de-duplicated (derived once: the graph's hot path)."""

    def __post_init__(self) -> None:
        targets = {i.module for i, r in zip(self.imports, self.resolutions, strict=True) if r.kind in _MODULE_KINDS}
        object.__setattr__(self, "edges", tuple(sorted(targets)))

    def __reduce__(self) -> tuple[type[Module], tuple[object, ...]]:
        """Pickled as its constructor call (twice as fast to load as dataclass state)."""
        return (Module, (self.name, self.package, self.library, self.exe, self.source, self.resolutions))

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def header(self) -> Header:
        return self.source.header

    @property
    def imports(self) -> tuple[Import, ...]:
        return self.source.header.imports

    @property
    def digest(self) -> str:
        return self.source.digest

    @property
    def header_digest(self) -> str:
        return self.source.header_digest


def _h(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


class ModuleGraph:
    def __init__(self, core_salt: str = "") -> None:
        self.modules: dict[str, Module] = {}
        self._edges: dict[str, tuple[str, ...]] = {}
        self._importers: dict[str, set[str]] = {}
        self._closure_digests: dict[str, str] = {}
        self._cycles: list[tuple[str, ...]] | None = None
        self.core_salt = core_salt

    def __contains__(self, name: object) -> bool:
        return name in self.modules

    def __len__(self) -> int:
        return len(self.modules)

    def get(self, name: str) -> Module | None:
        return self.modules.get(name)

    def set_core_salt(self, salt: str) -> None:
        if salt != self.core_salt:
            self.core_salt = salt
            self._closure_digests.clear()

    def put(self, module: Module) -> None:
        """Insert or replace a module, forgetting what depended on the old one."""
        name = module.name
        old = self.modules.get(name)
        if old is not None:
            for imp in old.imports:
                users = self._importers.get(imp.module)
                if users is not None:
                    users.discard(name)
        self.modules[name] = module
        edges = module.edges
        before = self._edges.get(name, ())
        if old is None or before != edges:
            self._forget_cycles(name, set(edges) - set(before))
        self._edges[name] = edges
        for imp in module.imports:
            self._importers.setdefault(imp.module, set()).add(name)
        self.invalidate(name)

    def remove(self, name: str) -> Module | None:
        old = self.modules.pop(name, None)
        if old is None:
            return None
        for imp in old.imports:
            users = self._importers.get(imp.module)
            if users is not None:
                users.discard(name)
        self._edges.pop(name, None)
        self._forget_cycles(name, set())
        self.invalidate(name)
        return old

    def _forget_cycles(self, name: str, new_targets: set[str]) -> None:
        """Forget the cycles found unless `name`'s edge change cannot have changed them: it was in
        none, and none of the modules it newly imports leads back to it (an edit of a module 7,000
        others import would otherwise cost a search of the whole graph)."""
        cycles = self._cycles
        if cycles is None:
            return
        if any(name in c for c in cycles) or (new_targets and name in self.closure(new_targets)):
            self._cycles = None

    def importers(self, name: str) -> set[str]:
        """Modules whose header imports `name` (resolved or not)."""
        return set(self._importers.get(name, ()))

    def edges(self, name: str) -> tuple[str, ...]:
        return self._edges.get(name, ())

    def invalidate(self, name: str) -> None:
        """Forget closure digests of `name` and everything that imports it, transitively.

        The memo is closed downward (a cached module's imports are cached), so
        the walk stops at the first module that has nothing cached."""
        self._closure_digests.pop(name, None)
        stack = list(self._importers.get(name, ()))
        while stack:
            m = stack.pop()
            if self._closure_digests.pop(m, None) is not None:
                stack.extend(self._importers.get(m, ()))

    def importing(self, names: Iterable[str]) -> set[str]:
        """`names` and every module that imports one of them through a resolved import, directly
        or not: exactly the modules whose closure digests move when theirs do."""
        out = set(names)
        stack = list(out)
        importers, edges = self._importers, self._edges  # the hot loop of an edit's announcement
        while stack:
            name = stack.pop()
            for importer in importers.get(name, ()):
                if importer not in out and name in edges.get(importer, ()):
                    out.add(importer)
                    stack.append(importer)
        return out

    def closure(self, names: Iterable[str]) -> set[str]:
        """Every module loaded by importing `names` (including themselves)."""
        seen: set[str] = set()
        stack = [n for n in names if n in self.modules]
        while stack:
            m = stack.pop()
            if m in seen:
                continue
            seen.add(m)
            stack.extend(e for e in self._edges.get(m, ()) if e not in seen)
        return seen

    def dependents(self, name: str) -> set[str]:
        """Every module that imports `name`, directly or not."""
        seen: set[str] = set()
        stack = list(self._importers.get(name, ()))
        while stack:
            m = stack.pop()
            if m in seen or m not in self.modules:
                continue
            seen.add(m)
            stack.extend(self._importers.get(m, ()))
        return seen

    def closure_digest(self, name: str) -> str:
        return closure_digest(name, self.modules, self._closure_digests, self.core_salt)

    def cycles(self) -> list[tuple[str, ...]]:
        """Import cycles, each as its modules in import order starting from the smallest name."""
        if self._cycles is None:
            found: list[tuple[str, ...]] = []
            for component in strongly_connected(sorted(self.modules), lambda v: list(self._edges.get(v, ()))):
                if len(component) > 1 or component[0] in self._edges.get(component[0], ()):
                    found.append(self._cycle_path(set(component)))
            self._cycles = sorted(found)
        return self._cycles

    def _cycle_path(self, members: set[str]) -> tuple[str, ...]:
        """One concrete cycle through the smallest member, for a readable message."""
        start = min(members)
        parents: dict[str, str] = {}
        queue = [start]
        while queue:
            v = queue.pop(0)
            for w in self._edges.get(v, ()):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return tuple(reversed(path))
                if w in members and w not in parents:
                    parents[w] = v
                    queue.append(w)
        return (start,)


def closure_digest(name: str, modules: Mapping[str, Module], memo: dict[str, str], core_salt: str) -> str:
    """`name`'s closure digest over `modules`, memoising in `memo` every digest it computes.

    `memo` must be closed downward (a memoised module's imports are memoised), as the graph
    keeps it; the engine's snapshots keep one per snapshot over an immutable module map."""
    cached = memo.get(name)
    if cached is not None:
        return cached
    if name not in modules:
        raise KeyError(name)
    for component in strongly_connected([name], lambda v: [w for w in modules[v].edges if w not in memo]):
        _digest_component(component, modules, memo, core_salt)
    return memo[name]


def _import_token(imp: Import, resolution: Resolution, memo: dict[str, str], core_salt: str) -> str:
    kind = resolution.kind
    if kind in _MODULE_KINDS:
        return memo[imp.module]
    if kind is ResolutionKind.CORE:
        return _h("core", imp.module, core_salt)
    return _h("unresolved", imp.module)


def _digest_component(component: list[str], modules: Mapping[str, Module], memo: dict[str, str], salt: str) -> None:
    members = set(component)
    if len(component) == 1 and component[0] not in modules[component[0]].edges:
        m = modules[component[0]]
        tokens = sorted({_import_token(i, r, memo, salt) for i, r in zip(m.imports, m.resolutions, strict=True)})
        memo[m.name] = _h("module", m.digest, *tokens)
        return
    outside: set[str] = set()
    for name in component:
        m = modules[name]
        for i, r in zip(m.imports, m.resolutions, strict=True):
            if not (r.is_module and i.module in members):
                outside.add(_import_token(i, r, memo, salt))
    key = _h("cycle", *sorted(modules[n].digest for n in component), "|", *sorted(outside))
    for name in component:
        memo[name] = _h(key, name)


def strongly_connected(roots: Iterable[str], successors: Callable[[str], list[str]]) -> Iterator[list[str]]:
    """Strongly connected components, dependencies before dependents (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in roots:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterator[str]]] = [(root, iter(successors(root)))]
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(successors(w))))
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    yield component
