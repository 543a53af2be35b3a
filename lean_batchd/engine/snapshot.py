"""What queries read: an immutable snapshot of one project (model, plan, fingerprints, diagnostics).

An update builds the next snapshot in a thread (`revision.py`) and the event
loop installs it with one assignment, so a query never waits for an update
and never sees half of one: it keeps the snapshot it started with (as
rust-analyzer's `GlobalStateSnapshot`). The generation counts the model's
changes. A snapshot's structure (modules, work items, which batch holds each
module, session keys, the project fingerprint) is exact for its generation
from the moment it is installed; what takes longer to derive for the
thousands of modules a much-imported one reaches (closure digests, batch
fingerprints, closure sizes, diagnostics) is the last complete one until a
later step brings it up to date (`plan_generation`, `diagnostics_generation`,
`steps`), and answers say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..lake.diagnostics import Diagnostic
from ..lake.fingerprint import ProjectFingerprint
from ..lake.graph import Module, closure_digest
from ..lake.header import parse_header_text
from ..lake.names import escape_part
from ..plan.keys import SessionKey, header_imports
from ..plan.planner import Plan, PlanConfig, PlanContext, session_key
from ..plan.work import ModuleWork


@dataclass(frozen=True, slots=True)
class FileDiagnostics:
    diagnostics: tuple[Diagnostic, ...]
    lines: Mapping[int, str]
    """The text of each line (1-based) the diagnostics point at: editors count columns in UTF-16."""

    @classmethod
    def of(cls, diagnostics: Iterable[Diagnostic], text: str) -> FileDiagnostics:
        found = tuple(diagnostics)
        lines = text.split("\n")
        wanted = {d.line for d in found if d.line is not None and 0 < d.line <= len(lines)}
        return cls(found, {n: lines[n - 1] for n in wanted})


NO_DIAGNOSTICS = FileDiagnostics((), {})
MAX_STEPS = 4


@dataclass(frozen=True, slots=True)
class PlanDebt:
    """What one update changed that the plan has not caught up with."""

    moved: frozenset[str] = frozenset()
    """Modules whose closure digest moved."""
    works: frozenset[str] = frozenset()
    """Planned modules whose work item is new or changed."""
    removed: frozenset[str] = frozenset()
    """Modules planned before and no longer."""
    edges: bool = False
    """Imports changed (or modules came or went): closure masks must be rebuilt."""

    def then(self, later: PlanDebt) -> PlanDebt:
        return PlanDebt(
            self.moved | later.moved,
            (self.works - later.removed) | later.works,
            (self.removed - later.works) | later.removed,
            self.edges or later.edges,
        )


class SnapshotGraph:
    """The import graph as one snapshot has it (the planner's `ImportGraph`): an immutable module
    map, closure digests computed on demand into the graph's own memo (`lake.graph.closure_digest`)."""

    def __init__(self, modules: Mapping[str, Module], digests: dict[str, str], core_salt: str) -> None:
        self._modules = modules
        self.digests = digests
        self.core_salt = core_salt

    @property
    def modules(self) -> Mapping[str, Module]:
        return self._modules

    def edges(self, name: str) -> tuple[str, ...]:
        module = self._modules.get(name)
        return () if module is None else module.edges

    def closure_digest(self, name: str) -> str:
        return closure_digest(name, self._modules, self.digests, self.core_salt)

    def without(self, moved: Iterable[str], modules: Mapping[str, Module]) -> SnapshotGraph:
        """A graph over `modules` that keeps this one's digests except those of `moved` modules:
        the memo stays closed downward, since whatever imports a moved module moved too."""
        gone = set(moved)
        kept = {n: d for n, d in self.digests.items() if n not in gone and n in modules}
        return SnapshotGraph(modules, kept, self.core_salt)


@dataclass(frozen=True, slots=True)
class Session:
    """What a file needs: its work item (header from the buffer when unsaved) and its session."""

    path: str
    """The file, symlinks resolved."""
    work: ModuleWork
    key: SessionKey
    closure_size: int
    unsaved: bool


@dataclass(frozen=True, slots=True)
class ProjectSnapshot:
    generation: int
    root: Path
    name: str
    plan_config: PlanConfig
    modules: Mapping[str, Module]
    """Every module of the model (the project's own and the dependencies' it reaches)."""
    files: Mapping[str, str]
    """Path -> the module an editor gets for the file (`LakeProject.modules_at`, local first)."""
    works: Mapping[str, ModuleWork]
    """The project's own modules' work items."""
    reached: Mapping[str, ModuleWork]
    """Work items of the dependencies' modules the model reached (for files opened there)."""
    batch_of: Mapping[str, str]
    """Planned module -> its batch (session key digest)."""
    members: Mapping[str, tuple[str, ...]]
    """Batch -> its modules, sorted."""
    keys: Mapping[str, SessionKey]
    """Batch -> its session key."""
    fingerprint: ProjectFingerprint
    context: PlanContext
    """Of `plan`: its graph (a `SnapshotGraph`) and closure index; its key memo is shared."""
    plan: Plan
    """The plan as of `plan_generation`, fingerprints and all."""
    plan_generation: int
    steps: tuple[tuple[int, PlanDebt], ...]
    """What each generation after `plan_generation` changed, for the plan to catch up with."""
    diagnostics: Mapping[str, FileDiagnostics]
    """Path -> the project's diagnostics there, as of `diagnostics_generation` (files with some)."""
    diagnostics_generation: int

    @property
    def settled(self) -> bool:
        """Is everything derived (plan, fingerprints, closure sizes, diagnostics) of this generation?"""
        return self.plan_generation == self.generation == self.diagnostics_generation

    def owing(self, generation: int, step: PlanDebt) -> tuple[tuple[int, PlanDebt], ...]:
        """`steps` with `generation`'s added. Past `MAX_STEPS` they are folded into one: a plan
        settled meanwhile then pays some debt twice, which costs time, never correctness."""
        steps = (*self.steps, (generation, step))
        if len(steps) <= MAX_STEPS:
            return steps
        folded = PlanDebt()
        for _, s in steps:
            folded = folded.then(s)
        return ((generation, folded),)

    def debt(self) -> PlanDebt:
        out = PlanDebt()
        for _, step in self.steps:
            out = out.then(step)
        return out

    def with_plan_of(self, other: ProjectSnapshot) -> ProjectSnapshot:
        """This snapshot with `other`'s plan when that is newer (a plan settled beside updates)."""
        if other.plan_generation <= self.plan_generation:
            return self
        steps = tuple(s for s in self.steps if s[0] > other.plan_generation)
        return replace(self, context=other.context, plan=other.plan, plan_generation=other.plan_generation, steps=steps)

    def with_diagnostics_of(self, other: ProjectSnapshot) -> ProjectSnapshot:
        if other.diagnostics_generation <= self.diagnostics_generation:
            return self
        return replace(self, diagnostics=other.diagnostics, diagnostics_generation=other.diagnostics_generation)

    # -- reading -----------------------------------------------------------------------

    def module_at(self, path: str) -> str | None:
        return self.files.get(path)

    def work_of(self, name: str) -> ModuleWork:
        """A module's work item: the project's own, or a dependency's."""
        work = self.works.get(name)
        return work if work is not None else self.reached[name]

    def session(self, path: str, work: ModuleWork, buffer: str | None, shown: str) -> Session:
        """The session `work` needs; an unsaved `buffer`'s header wins over the file on disk."""
        if buffer is not None:
            header = parse_header_text(buffer, shown)
            work = replace(
                work, imports=header_imports(header.imports), is_module=header.is_module, prelude=header.prelude,
                header_end=header.end,
            )  # fmt: skip
        planned = self.batch_of.get(work.module)
        key = self.keys[planned] if buffer is None and planned is not None else None
        if key is None:
            key = session_key(work, self.context, self.plan_config)
        return Session(path, work, key, self.closure_size(key), buffer is not None)

    def closure_size(self, key: SessionKey) -> int:
        """Modules the session loads (as of the closure index of `plan_generation`)."""
        index = self.context.closures()
        mask = index.masks.get(key.full_digest)
        if mask is None:
            mask = index.masks[key.full_digest] = index.closure_of(i.module for i in key.imports)
        return mask.bit_count()

    def key(self, digest: str) -> SessionKey | None:
        return self.keys.get(digest)

    def file_diagnostics(self, path: str) -> FileDiagnostics:
        return self.diagnostics.get(path, NO_DIAGNOSTICS)


@dataclass(frozen=True, slots=True)
class ProjectView:
    """What a project answers now: its snapshot, and whether a change of its model is known and not
    in it yet (`snapshot.settled` says whether its derived data is up to date)."""

    snapshot: ProjectSnapshot
    pending: bool


def outside_work(path: str, text: str, shown: str, shown_folder: str) -> ModuleWork:
    """A file no library owns: it still has a header and a session (target none)."""
    header = parse_header_text(text, path)
    return ModuleWork(
        escape_part(Path(path).stem), shown, shown_folder, header_imports(header.imports), header.is_module,
        header.prelude, None, header.end,
    )  # fmt: skip
