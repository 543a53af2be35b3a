"""Building a project's next snapshot, in an update's thread: first what changed, then the rest.

`announced` applies a model change to the snapshot's structure in time
proportional to the change and says what it means for the plan
(`PlanNews`): which batches came, went, or hold a module whose closure digest
moved. No digest needs computing for that: a closure digest is a Merkle hash
over a module's bytes and its import tokens, so it moves exactly when the
module's bytes or import tokens changed, or when a module it imports through a
resolved import moved (`_moved_itself`, `ModuleGraph.importing`). `settled` derives the
rest (closure index, digests, batch fingerprints: the complete plan) from the
immutable snapshot alone, so it runs without the model's lock, beside later
updates, as salsa recomputes derived values on demand. `diagnosed` brings the
diagnostics up to date; it reads the model, so the model's lock is held.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace

from ..lake.diagnostics import Diagnostic
from ..lake.files import read_text
from ..lake.graph import Module
from ..lake.names import parse_name
from ..lake.project import LakeProject, ModelChange
from ..plan.closures import ClosureIndex
from ..plan.diff import BatchChange
from ..plan.keys import header_imports
from ..plan.model import context_for
from ..plan.planner import Plan, PlanConfig, PlanContext, plan, refresh_plan, session_key
from ..plan.work import ModuleWork, module_options, work_from_model
from .news import PlanNews, plan_news
from .snapshot import FileDiagnostics, PlanDebt, ProjectSnapshot, SnapshotGraph


def first_snapshot(
    project: LakeProject, plan_config: PlanConfig, restored: tuple[Plan, PlanContext] | None = None
) -> ProjectSnapshot:
    """The whole project, planned (or with the plan `restored` from a store, made for this very
    model) and diagnosed."""
    return diagnosed(project, _planned_afresh(project, plan_config, 1, restored))[1]


def _planned_afresh(
    project: LakeProject, plan_config: PlanConfig, generation: int, restored: tuple[Plan, PlanContext] | None = None
) -> ProjectSnapshot:
    """The whole project planned (opening it, or after its configuration changed); no diagnostics yet."""
    modules = dict(project.graph.modules)
    works = {w.module: w for w in work_from_model(project)}
    if restored is None:
        context = replace(context_for(project), graph=SnapshotGraph(modules, {}, project.graph.core_salt))
        complete = plan(list(works.values()), context, plan_config)
    else:  # the batches hold the modules' digests: a memo closed enough for what settling asks
        complete, stored = restored
        digests = {w.module: d for b in complete.batches for w, d in zip(b.modules, b.digests, strict=True)}
        context = replace(stored, graph=SnapshotGraph(modules, digests, project.graph.core_salt), index=None)
    context.closures()
    files: dict[str, str] = {}
    for path in {m.path for m in modules.values()}:
        _place(project, files, path)
    return ProjectSnapshot(
        generation=generation, root=project.root.root, name=project.name, plan_config=plan_config,
        modules=modules, files=files, works=works, reached=_reached(project, modules, works),
        batch_of={w.module: b.id for b in complete.batches for w in b.modules},
        members={b.id: b.names() for b in complete.batches}, keys={b.id: b.key for b in complete.batches},
        fingerprint=project.fingerprint(), context=context, plan=complete, plan_generation=generation, steps=(),
        diagnostics={}, diagnostics_generation=0,
    )  # fmt: skip


def announced(project: LakeProject, snap: ProjectSnapshot, change: ModelChange) -> tuple[PlanNews, ProjectSnapshot]:
    """The snapshot after `change` (already applied to `project`), and the plan change it makes."""
    if change.config_changed:
        fresh = _planned_afresh(project, snap.plan_config, snap.generation + 1)
        was, now = _graph(snap).without(snap.debt().moved, snap.modules).digests, _graph(fresh).digests
        moved = {n for n in fresh.batch_of if was.get(n) is None or was.get(n) != now.get(n)}
        names = set(snap.batch_of) | set(fresh.batch_of)
        edited = moved & {*change.added, *change.header_changed, *change.body_changed}
        news = _news(
            snap, fresh.batch_of, fresh.members, names, moved, edited, fresh.generation, fresh.fingerprint.digest
        )
        return news, replace(fresh, diagnostics=snap.diagnostics, diagnostics_generation=snap.diagnostics_generation)
    graph = project.graph
    names = {*change.added, *change.removed, *change.header_changed, *change.body_changed}
    modules = dict(graph.modules)
    files = dict(snap.files)
    for name in names:
        for module in (snap.modules.get(name), modules.get(name)):
            if module is not None:
                _place(project, files, module.path)
    works = dict(snap.works)
    for name in names:
        works.pop(name, None)
    works.update((w.module, w) for w in work_from_model(project, names))
    reached = dict(snap.reached)
    for name in names:
        reached.pop(name, None)
    reached.update(_reached(project, {n: modules[n] for n in names if n in modules}, works))
    batch_of = dict(snap.batch_of)
    keys = dict(snap.keys)
    regrouped: dict[str, set[str]] = {}
    for name in sorted(names):
        before = batch_of.pop(name, None)
        work = works.get(name)
        after = None
        if work is not None and _planned(work, snap.plan_config):
            key = session_key(work, snap.context, snap.plan_config)
            after = batch_of[name] = key.digest
            keys[after] = key
        if before != after:
            for bid in (before, after):
                if bid is not None and bid not in regrouped:
                    regrouped[bid] = set(snap.members.get(bid, ()))
            if before is not None:
                regrouped[before].discard(name)
            if after is not None:
                regrouped[after].add(name)
    members = dict(snap.members)
    for bid, group in regrouped.items():
        if group:
            members[bid] = tuple(sorted(group))
        else:
            members.pop(bid, None)
            keys.pop(bid, None)
    edited = {n for n in names if n in modules and _moved_itself(snap.modules.get(n), modules[n])}
    moved = graph.importing(edited)
    generation = snap.generation + 1
    fingerprint = project.fingerprint()
    news = _news(snap, batch_of, members, names, moved, edited, generation, fingerprint.digest)
    step = PlanDebt(
        moved=frozenset(moved),
        works=frozenset(n for n in names if n in batch_of),
        removed=frozenset(n for n in names if n in snap.batch_of and n not in batch_of),
        edges=bool(change.added or change.removed or change.header_changed),
    )
    return news, replace(
        snap, generation=generation, name=project.name, modules=modules, files=files, works=works, reached=reached,
        batch_of=batch_of, members=members, keys=keys, fingerprint=fingerprint, steps=snap.owing(generation, step),
    )  # fmt: skip


def settled(snap: ProjectSnapshot) -> ProjectSnapshot:
    """`snap` with its plan (closure index, digests, batch fingerprints) brought up to its
    generation. Reads the snapshot alone: no lock, beside later updates."""
    if snap.plan_generation == snap.generation:
        return snap
    debt = snap.debt()
    graph = _graph(snap).without(debt.moved, snap.modules)
    index = ClosureIndex(snap.modules, graph.edges) if debt.edges else snap.context.closures()
    context = replace(snap.context, graph=graph, index=index)
    work = [snap.works[n] for n in sorted(debt.works) if n in snap.batch_of]
    removed = set(debt.removed) | {n for n in debt.works if n not in snap.batch_of}
    changed = set(debt.moved)
    if debt.edges:  # a session's closure is by name, resolved or not: its size may move alone
        for b in snap.plan.batches:
            mask = index.masks.get(b.key.full_digest)
            if mask is None:
                mask = index.masks[b.key.full_digest] = index.closure_of(i.module for i in b.key.imports)
            if mask.bit_count() != b.closure_size:
                changed.update(b.names())
    fresh = refresh_plan(snap.plan, work, changed, context, snap.plan_config, removed)
    return replace(snap, context=context, plan=fresh, plan_generation=snap.generation, steps=())


def diagnosed(project: LakeProject, snap: ProjectSnapshot) -> tuple[dict[str, FileDiagnostics], ProjectSnapshot]:
    """The project's diagnostics now (the model must be at `snap`'s generation), and the files
    whose diagnostics changed (an empty entry: cleared). Reads the lines they point at."""
    by_file: dict[str, list[Diagnostic]] = {}
    lakefile = str(project.root.lakefile)
    for d in project.diagnostics():
        target = lakefile if d.path is None else os.path.normpath(os.path.join(snap.root, d.path))
        by_file.setdefault(target, []).append(d)
    changed: dict[str, FileDiagnostics] = {}
    for path in set(by_file) | set(snap.diagnostics):
        now = tuple(by_file.get(path, ()))
        before = snap.diagnostics.get(path)
        if (before.diagnostics if before is not None else ()) != now:
            text = read_text(path) if now else ""
            changed[path] = FileDiagnostics.of(now, text if isinstance(text, str) else "")
    diagnostics = {p: f for p, f in {**snap.diagnostics, **changed}.items() if f.diagnostics}
    return changed, replace(snap, diagnostics=diagnostics, diagnostics_generation=snap.generation)


def plan_now(snap: ProjectSnapshot, config: PlanConfig) -> Plan:
    """A plan of `snap`'s generation under another profile or strategy (from the snapshot alone)."""
    debt = snap.debt()
    graph = _graph(snap).without(debt.moved, snap.modules)
    index = ClosureIndex(snap.modules, graph.edges) if debt.edges else snap.context.closures()
    context = replace(snap.context, graph=graph, index=index, naive={})
    return plan(list(snap.works.values()), context, replace(config, worker_command=snap.plan_config.worker_command))


def _news(
    old: ProjectSnapshot,
    batch_of: Mapping[str, str],
    members: Mapping[str, tuple[str, ...]],
    names: Iterable[str],
    moved: set[str],
    edited: set[str],
    generation: int,
    fingerprint: str,
) -> PlanNews:
    """What `diff_plans` would say between the plans of `old` and the new structure, from
    membership and moved modules alone: the batches it calls changed are the news's `changed`
    (those with joined, left or `edited` modules) and `dependents` (the rest)."""
    joined: dict[str, set[str]] = {}
    left: dict[str, set[str]] = {}
    for name in names:
        before, after = old.batch_of.get(name), batch_of.get(name)
        if before != after:
            if before is not None:
                left.setdefault(before, set()).add(name)
            if after is not None:
                joined.setdefault(after, set()).add(name)
    stayed: dict[str, list[str]] = {}
    for name in moved:
        bid = batch_of.get(name)
        if bid is not None and old.batch_of.get(name) == bid:
            stayed.setdefault(bid, []).append(name)
    touched = set(joined) | set(left)
    added = {b: members[b] for b in touched if b not in old.members and b in members}
    removed = {b: old.members[b] for b in touched if b in old.members and b not in members}
    listed = touched | {batch_of[n] for n in edited if n in batch_of}
    changed = {
        b: BatchChange(b, _sorted(joined.get(b)), _sorted(left.get(b)), tuple(sorted(stayed.get(b, ()))))
        for b in listed
        if b in old.members and b in members
    }
    dependents = frozenset(b for b in stayed if b not in listed)
    return plan_news(
        old.generation, generation, fingerprint, added, removed, changed, dependents, len(moved), len(members)
    )


def _graph(snap: ProjectSnapshot) -> SnapshotGraph:
    graph = snap.context.graph
    assert isinstance(graph, SnapshotGraph)
    return graph


def _moved_itself(old: Module | None, new: Module) -> bool:
    """Did the module's own closure digest input change (its bytes, or what its imports are)?"""
    return old is None or old.digest != new.digest or _tokens(old) != _tokens(new)


def _tokens(module: Module) -> frozenset[tuple[str, str]]:
    """An import's token is the imported module's closure digest when it resolves to a module,
    else fixed by its name and kind (`lake.graph._import_token`)."""
    return frozenset(
        (i.module, "module" if r.is_module else str(r.kind))
        for i, r in zip(module.imports, module.resolutions, strict=True)
    )


def _planned(work: ModuleWork, config: PlanConfig) -> bool:
    """Does the planner plan this work item (`_Planner.validate`)?"""
    return parse_name(work.module) is not None and (config.library is None or work.library == config.library)


def _reached(
    project: LakeProject, modules: Mapping[str, Module], works: Mapping[str, ModuleWork]
) -> dict[str, ModuleWork]:
    """Work items of the modules among `modules` that are not the project's own (a dependency's
    file opened in an editor gets its session from one)."""
    out = {}
    for name, module in modules.items():
        if name not in works:
            header = module.header
            out[name] = ModuleWork(
                name, module.source.shown, ".", header_imports(header.imports), header.is_module, header.prelude,
                module.library, header.end, module_options(project, name),
            )  # fmt: skip
    return out


def _place(project: LakeProject, files: dict[str, str], path: str) -> None:
    modules = project.modules_at(path)
    if not modules:
        files.pop(path, None)
        return
    local = [m for m in modules if m.package == project.name]
    files[path] = (local[0] if local else modules[0]).name


def _sorted(names: set[str] | None) -> tuple[str, ...]:
    return tuple(sorted(names or ()))
