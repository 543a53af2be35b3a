"""Batch plans: module work grouped by the session that can serve it.

`exact` groups work whose session keys are equal (any profile). `cover`
(profile `module`) picks few sessions whose import closures hold every
requested module, none above a cap, minimising the modules imported in all:
it imports only the requested modules no other requested module imports
(importing anything else can only add), packs them greedily by the smallest
increase of a session's closure, and puts a module whose own closure exceeds
the cap alone, with a diagnostic. Plans are pure values: no worker ids, no
processes, no scheduling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..lake.diagnostics import Code, Diagnostic, Severity, diagnostic
from ..lake.header import Import
from ..lake.names import parse_name
from .closures import ClosureIndex, Weights
from .keys import MetadataExpectation, Profile, RestartPolicy, SessionKey, Strategy
from .work import ModuleWork

DEFAULT_WORKER_COMMAND = ("lake", "env", "repl")
DEFAULT_PROTOCOL = "leanprover-community/repl"


class ImportGraph(Protocol):
    """What the planner needs of the Lake model's graph."""

    @property
    def modules(self) -> Mapping[str, object]: ...

    def edges(self, name: str) -> tuple[str, ...]: ...

    def closure_digest(self, name: str) -> str: ...


@dataclass(frozen=True, slots=True)
class PlanContext:
    project_root: str
    package: str
    toolchain: str
    libraries: tuple[str, ...]
    """Libraries the lakefile declares (a fallback library Lake would assume is not declared)."""
    graph: ImportGraph
    index: ClosureIndex | None = field(default=None, compare=False)
    """Reuse closures across plans of one model; built on first need otherwise."""

    def closures(self) -> ClosureIndex:
        if self.index is None:
            graph = self.graph
            object.__setattr__(self, "index", ClosureIndex(graph.modules, graph.edges))
        assert self.index is not None
        return self.index


@dataclass(frozen=True, slots=True)
class PlanConfig:
    profile: Profile = Profile.HEADER
    strategy: Strategy = Strategy.EXACT
    max_closure: int | None = None
    """`cover`: no session may import more modules than this (transitively)."""
    module_costs: Mapping[str, int] | None = None
    """`cover`: per-module costs (a memory estimate from the pool); with `cost_budget`, caps sessions."""
    cost_budget: int | None = None
    library: str | None = None
    """Plan only this library's modules; it must be declared in the lakefile."""
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    metadata: MetadataExpectation | None = None
    worker_command: tuple[str, ...] = DEFAULT_WORKER_COMMAND
    protocol: str = DEFAULT_PROTOCOL


@dataclass(frozen=True, slots=True)
class Batch:
    key: SessionKey
    modules: tuple[ModuleWork, ...]
    """Sorted by module name."""
    digests: tuple[str, ...]
    """Each module's closure digest (its content and everything it imports), parallel to `modules`."""
    fingerprint: str
    """Over the key and `digests`: changes exactly when one of them does."""
    closure_size: int
    """Modules the session loads (those of this project and its packages; core Lean not counted)."""
    restart_policy: RestartPolicy

    @property
    def id(self) -> str:
        return self.key.digest

    def names(self) -> tuple[str, ...]:
        return tuple(w.module for w in self.modules)

    def capability(self) -> dict[str, object]:
        """What starting a worker for this batch needs."""
        key = self.key
        return {
            "project_root": key.project_root,
            "package": key.package,
            "library": key.target,
            "imports": [i.to_json() for i in key.imports],
            "header": key.header_text(),
            "profile": str(key.profile),
            "restart_policy": self.restart_policy.to_json(),
            "metadata": None if key.metadata is None else key.metadata.to_json(),
            "worker_command": list(key.worker_command),
        }


@dataclass(frozen=True, slots=True)
class PlanStats:
    modules: int
    batches: int
    imported_modules_total: int
    """Sum over sessions of the modules each imports (transitively)."""
    naive_imported_modules_total: int
    """The same with one session per module."""
    largest_batch: int
    largest_closure: int

    def to_json(self) -> dict[str, int]:
        return {
            "modules": self.modules,
            "batches": self.batches,
            "imported_modules_total": self.imported_modules_total,
            "naive_imported_modules_total": self.naive_imported_modules_total,
            "largest_batch": self.largest_batch,
            "largest_closure": self.largest_closure,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    profile: Profile
    strategy: Strategy
    batches: tuple[Batch, ...]
    stats: PlanStats
    diagnostics: tuple[Diagnostic, ...] = ()

    def batch_of(self, module: str) -> Batch | None:
        return next((b for b in self.batches if module in b.names()), None)


class _Planner:
    def __init__(self, context: PlanContext, config: PlanConfig) -> None:
        self.context = context
        self.config = config
        self.notes: list[Diagnostic] = []
        self.policy_digest = config.restart_policy.digest

    def key(self, work: ModuleWork, imports: tuple[Import, ...], is_module: bool, prelude: bool) -> SessionKey:
        c = self.config
        return SessionKey(
            project_root=self.context.project_root,
            package=self.context.package,
            target=work.library,
            source_root=work.source_root,
            is_module=is_module,
            prelude=prelude,
            imports=imports,
            profile=c.profile,
            toolchain=self.context.toolchain,
            protocol=c.protocol,
            restart_policy=self.policy_digest,
            worker_command=c.worker_command,
            metadata=c.metadata,
        )

    def session_key(self, work: ModuleWork) -> SessionKey:
        if self.config.profile is Profile.HEADER:
            return self.key(work, work.imports, work.is_module, work.prelude)
        return self.key(work, (Import(work.module),), False, False)

    def closure_mask(self, key: SessionKey) -> int:
        return self.context.closures().closure_of(i.module for i in key.imports)

    def naive_mask(self, work: ModuleWork) -> int:
        index = self.context.closures()
        if self.config.profile is Profile.HEADER:
            return index.closure_of(i.module for i in work.imports)
        return index.closure_of([work.module])

    def digest(self, w: ModuleWork) -> str:
        graph = self.context.graph
        if w.module in graph.modules:
            return graph.closure_digest(w.module)
        return hashlib.sha256(repr((w.path, w.is_module, w.prelude, w.imports)).encode()).hexdigest()

    def batch(self, key: SessionKey, members: list[ModuleWork], closure: int) -> Batch:
        members = sorted(members, key=lambda w: w.module)
        digests = tuple(self.digest(w) for w in members)
        h = hashlib.sha256(key.full_digest.encode())
        for w, d in zip(members, digests, strict=True):
            h.update(f"\x00{w.module}\x00{d}".encode())
        return Batch(key, tuple(members), digests, h.hexdigest(), closure.bit_count(), self.config.restart_policy)

    def exact(self, work: list[ModuleWork]) -> list[Batch]:
        groups: dict[SessionKey, list[ModuleWork]] = {}
        for w in work:
            groups.setdefault(self.session_key(w), []).append(w)
        return [self.batch(key, members, self.closure_mask(key)) for key, members in groups.items()]

    def cover(self, work: list[ModuleWork]) -> list[Batch]:
        groups: dict[tuple[str | None, str], list[ModuleWork]] = {}
        for w in work:
            groups.setdefault((w.library, w.source_root), []).append(w)
        batches: list[Batch] = []
        for _, members in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            batches.extend(self.cover_group(members))
        return batches

    def cap(self) -> int | None:
        c = self.config
        if c.module_costs is not None and c.cost_budget is not None:
            return c.cost_budget
        return c.max_closure

    def cover_group(self, work: list[ModuleWork]) -> list[Batch]:
        index = self.context.closures()
        weights = Weights(index, self.config.module_costs if self.config.cost_budget is not None else None)
        cap = self.cap()
        by_name = {w.module: w for w in work}
        batches: list[Batch] = []
        alone: list[ModuleWork] = [w for w in work if w.module not in index]
        inside = [w for w in work if w.module in index]
        for w in inside:
            if cap is not None and weights.of(index.closure[w.module]) > cap:
                alone.append(w)
                self.notes.append(
                    diagnostic(
                        Code.COVER_CAP_EXCEEDED,
                        Severity.WARNING,
                        f"{w.module} alone imports {weights.of(index.closure[w.module])} "
                        f"{'modules' if weights.unit else 'cost units'}, above the cap of {cap}; "
                        "it gets a session of its own",
                        w.path,
                    )
                )
        for w in sorted(alone, key=lambda w: w.module):
            key = self.session_key(w)
            batches.append(self.batch(key, [w], index.closure_of([w.module])))
        lonely = {w.module for w in alone}
        rest = [w.module for w in inside if w.module not in lonely]
        requested = index.mask(rest)
        imported_by_others = 0
        for name in rest:
            imported_by_others |= index.strict[name]
        tops = index.members(requested & ~imported_by_others)
        tops.sort(key=lambda n: (-weights.of(index.closure[n]), n))
        sessions: list[tuple[list[str], int, int]] = []  # (imports, closure mask, weight)
        for name in tops:
            c = index.closure[name]
            best: tuple[int, int] | None = None
            for j, (_, mask, weight) in enumerate(sessions):
                union = weights.of(mask | c)
                if cap is not None and union > cap:
                    continue
                if best is None or union - weight < best[0]:
                    best = (union - weight, j)
            if best is None:
                sessions.append(([name], c, weights.of(c)))
            else:
                imports, mask, _ = sessions[best[1]]
                mask |= c
                sessions[best[1]] = ([*imports, name], mask, weights.of(mask))
        assigned = 0
        for imports, mask, _ in sessions:
            members = mask & requested & ~assigned
            assigned |= members
            first = by_name[imports[0]]
            key = self.key(first, tuple(Import(m) for m in sorted(imports)), False, False)
            batches.append(self.batch(key, [by_name[m] for m in index.members(members)], mask))
        return batches

    def run(self, work: Sequence[ModuleWork]) -> Plan:
        c = self.config
        valid = self.validate(work)
        strategy = c.strategy
        if strategy is Strategy.COVER and c.profile is Profile.HEADER:
            self.notes.append(
                diagnostic(
                    Code.PLAN_OPTION,
                    Severity.WARNING,
                    "`cover` applies to the `module` profile; `header` sessions are exact and never widened, "
                    "so this plan is `exact`",
                )
            )
            strategy = Strategy.EXACT
        batches = self.cover(valid) if strategy is Strategy.COVER else self.exact(valid)
        batches.sort(key=lambda b: (b.key.target or "", b.names()[0] if b.modules else "", b.id))
        naive = sum(self.naive_mask(w).bit_count() for w in valid)
        stats = PlanStats(
            modules=len(valid),
            batches=len(batches),
            imported_modules_total=sum(b.closure_size for b in batches),
            naive_imported_modules_total=naive,
            largest_batch=max((len(b.modules) for b in batches), default=0),
            largest_closure=max((b.closure_size for b in batches), default=0),
        )
        return Plan(c.profile, strategy, tuple(batches), stats, tuple(self.notes))

    def validate(self, work: Sequence[ModuleWork]) -> list[ModuleWork]:
        c = self.config
        if c.library is not None and c.library not in self.context.libraries:
            declared = ", ".join(self.context.libraries) or "none"
            self.notes.append(
                diagnostic(
                    Code.UNRESOLVED_TARGET,
                    Severity.ERROR,
                    f"library {c.library} is not declared in the lakefile (declared: {declared})",
                )
            )
            return []
        out: list[ModuleWork] = []
        seen: set[str] = set()
        for w in sorted(work, key=lambda w: (w.module, w.path)):
            if c.library is not None and w.library != c.library:
                continue
            if parse_name(w.module) is None:
                self.notes.append(
                    diagnostic(
                        Code.INVALID_MODULE_NAME, Severity.ERROR, f"`{w.module}` is not a Lean module name", w.path
                    )
                )
                continue
            if w.module in seen:
                self.notes.append(
                    diagnostic(
                        Code.INVALID_MODULE_NAME, Severity.WARNING, f"{w.module} is listed twice; planned once", w.path
                    )
                )
                continue
            seen.add(w.module)
            out.append(w)
        return out


def session_key(work: ModuleWork, context: PlanContext, config: PlanConfig | None = None) -> SessionKey:
    """The key of the session `work` needs under `config`'s profile (what `plan` would group it by)."""
    return _Planner(context, config or PlanConfig()).session_key(work)


def plan(work: Sequence[ModuleWork], context: PlanContext, config: PlanConfig | None = None) -> Plan:
    """Group work into batches; identical input gives identical output."""
    return _Planner(context, config or PlanConfig()).run(work)
