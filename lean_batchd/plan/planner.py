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

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..lake.diagnostics import Code, Diagnostic, Severity, diagnostic
from ..lake.header import Import
from ..lake.names import parse_name
from .closures import ClosureIndex, Weights
from .elaboration import Elaboration, elaboration_of
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
    memo: dict[object, SessionKey] = field(default_factory=dict, compare=False)
    """Session keys by their inputs, kept across plans: a key costs a JSON rendering and a hash."""
    naive: dict[str, int] = field(default_factory=dict, compare=False)
    """Each planned module's one-session-per-module import count, for updating stats by difference."""

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

    @property
    def elaboration(self) -> Elaboration:
        """How its modules are elaborated (all share it: it follows from the key)."""
        key = self.key
        return elaboration_of(key.is_module, key.options, key.toolchain)

    def __reduce__(self) -> tuple[type[Batch], tuple[object, ...]]:
        """Pickled as its constructor call: a stored plan loads twice as fast as from dataclass state."""
        fields = (self.key, self.modules, self.digests, self.fingerprint, self.closure_size, self.restart_policy)
        return (Batch, fields)

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
            "options": dict(key.options),
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
        # options by repr: `True` and `1` are equal as tuple items but are different Lean values
        memo_key = (work.library, work.source_root, imports, is_module, prelude, repr(work.options), c.profile,
                    c.protocol, c.worker_command, self.policy_digest, c.metadata)  # fmt: skip
        cached = self.context.memo.get(memo_key)
        if cached is not None:
            return cached
        key = self.context.memo[memo_key] = SessionKey(
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
            options=work.options,
        )
        return key

    def session_key(self, work: ModuleWork) -> SessionKey:
        if self.config.profile is Profile.HEADER:
            return self.key(work, work.imports, work.is_module, work.prelude)
        return self.key(work, (Import(work.module),), False, False)

    def closure_mask(self, key: SessionKey) -> int:
        """Memoised per key on the closure index (Mathlib.lean's 8,000 imports are rebuilt on every edit)."""
        index = self.context.closures()
        mask = index.masks.get(key.full_digest)
        if mask is None:
            mask = index.masks[key.full_digest] = index.closure_of(i.module for i in key.imports)
        return mask

    def naive_size(self, work: ModuleWork) -> int:
        """Modules a session for this work alone would import (memoised on the closure index)."""
        index = self.context.closures()
        names = tuple(i.module for i in work.imports) if self.config.profile is Profile.HEADER else (work.module,)
        size = index.sizes.get(names)
        if size is None:
            size = index.sizes[names] = index.closure_of(names).bit_count()
        return size

    def digest(self, w: ModuleWork) -> str:
        graph = self.context.graph
        if w.module in graph.modules:
            return graph.closure_digest(w.module)
        return hashlib.sha256(repr((w.path, w.is_module, w.prelude, w.imports, w.options)).encode()).hexdigest()

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
        return self.finish(strategy, batches, valid)

    def finish(self, strategy: Strategy, batches: list[Batch], work: list[ModuleWork]) -> Plan:
        batches.sort(key=_order)
        naive = self.context.naive
        naive.clear()
        for w in work:
            naive[w.module] = self.naive_size(w)
        return Plan(
            self.config.profile, strategy, tuple(batches), self.stats(batches, sum(naive.values())), tuple(self.notes)
        )

    def stats(self, batches: Sequence[Batch], naive_total: int) -> PlanStats:
        return PlanStats(
            modules=sum(len(b.modules) for b in batches),
            batches=len(batches),
            imported_modules_total=sum(b.closure_size for b in batches),
            naive_imported_modules_total=naive_total,
            largest_batch=max((len(b.modules) for b in batches), default=0),
            largest_closure=max((b.closure_size for b in batches), default=0),
        )

    def refresh(self, old: Plan, work: Sequence[ModuleWork], changed: set[str], removed: set[str]) -> Plan:
        """The fresh plan, rebuilding only batches that hold a touched module: time proportional
        to the change, not to the project (exact plans; anything else is planned afresh)."""
        c = self.config
        naive = self.context.naive
        if (
            c.strategy is not Strategy.EXACT
            or old.strategy is not Strategy.EXACT
            or old.profile is not c.profile
            or len(naive) != old.stats.modules
        ):
            return self.run(work)
        updated = {w.module: w for w in self.validate(work)}
        moved = removed | set(updated)
        touched_names = changed | moved
        touched: dict[SessionKey, list[ModuleWork]] = {}
        for b in old.batches:
            if any(w.module in touched_names for w in b.modules):
                touched[b.key] = [w for w in b.modules if w.module not in moved]
        by_key = {b.key: b for b in old.batches} if updated else {}
        for w in updated.values():
            key = self.session_key(w)
            if key not in touched:
                joined = by_key.get(key)
                touched[key] = list(joined.modules) if joined is not None else []
            touched[key].append(w)
        naive_total = old.stats.naive_imported_modules_total
        for name in touched_names:
            naive_total -= naive.pop(name, 0)
        for members in touched.values():
            for w in members:
                if w.module in touched_names:
                    naive[w.module] = self.naive_size(w)
                    naive_total += naive[w.module]
        rebuilt = [self.batch(k, m, self.closure_mask(k)) for k, m in touched.items() if m]
        batches = [b for b in old.batches if b.key not in touched]
        if len(rebuilt) > 64:
            batches.extend(rebuilt)
            batches.sort(key=_order)
        else:
            for b in rebuilt:
                bisect.insort(batches, b, key=_order)
        return Plan(c.profile, Strategy.EXACT, tuple(batches), self.stats(batches, naive_total), tuple(self.notes))

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


def _order(b: Batch) -> tuple[str, str, str]:
    return (b.key.target or "", b.modules[0].module if b.modules else "", b.key.full_digest)


def refresh_plan(
    old: Plan,
    work: Sequence[ModuleWork],
    changed: set[str],
    context: PlanContext,
    config: PlanConfig | None = None,
    removed: frozenset[str] | set[str] = frozenset(),
) -> Plan:
    """What a fresh `plan` of the current work gives, from `old` and what changed: `work` holds
    the new or updated work items (a header changed, a module came), `changed` the modules whose
    closure digest moved, `removed` the modules gone. Only batches holding one of them are
    rebuilt; this keeps the daemon's plan current in milliseconds. Exact plans only."""
    return _Planner(context, config or PlanConfig()).refresh(old, work, set(changed), set(removed))


def plan(work: Sequence[ModuleWork], context: PlanContext, config: PlanConfig | None = None) -> Plan:
    """Group work into batches; identical input gives identical output."""
    return _Planner(context, config or PlanConfig()).run(work)
