"""One project the daemon serves: its model, current plan, unsaved buffers and watcher.

All access to the `LakeProject` goes through `lock`; the model's blocking work
(reading files, planning) runs in a thread (`model_thread`) while the lock is
held, so the event loop stays responsive and no two threads touch the model
at once, even when the request that started the work is cancelled.

Unsaved buffers belong to the connection (the `owner`) that opened them: the
project holds the union of its live owners' buffers, and a question about a
file is answered for one owner, from that owner's buffer or else from disk.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from ..lake.files import read_text
from ..lake.graph import Module
from ..lake.header import parse_header_text
from ..lake.names import escape_part
from ..lake.options import LeanOptions
from ..lake.project import LakeProject, ModelChange
from ..plan.diff import PlanDiff, diff_plans
from ..plan.keys import SessionKey, header_imports
from ..plan.model import context_for
from ..plan.planner import Batch, Plan, PlanConfig, PlanContext, plan, refresh_plan, session_key
from ..plan.work import ModuleWork, module_options, work_from_model
from ..workers.shielding import run_to_end
from .watch import FileChanges

P = ParamSpec("P")
T = TypeVar("T")


async def model_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`asyncio.to_thread` that a cancelled caller still waits out: called with a project's lock
    held, the lock is not released while the thread still touches the model."""
    return await run_to_end(asyncio.to_thread(fn, *args, **kwargs))


def real_path(path: str | Path) -> str:
    """The one spelling of a path the daemon keys everything by: absolute, symlinks resolved (as
    project roots are), so a workspace opened through a symlink finds the same modules and keys."""
    return os.path.realpath(os.path.expanduser(path))


@dataclass(frozen=True, slots=True)
class Session:
    """What a file needs: its work item (header from the buffer when unsaved) and its session."""

    work: ModuleWork
    key: SessionKey
    closure_size: int
    unsaved: bool


class ManagedProject:
    def __init__(self, project: LakeProject, plan_config: PlanConfig, remembered: object = None) -> None:
        """`remembered`: what `remembered()` gave for this very model, from a store; the plan is
        taken from it when it was made under `plan_config`, else planned afresh."""
        self.project = project
        self.root = project.root.root
        self.plan_config = plan_config
        self.lock = asyncio.Lock()
        self.buffers: dict[str, dict[str, str]] = {}
        """Owner (a connection) -> path -> unsaved text."""
        self.lake_lock = asyncio.Lock()
        self.lake_verdicts: dict[str, bool] = {}
        """Lake's answer per imported module (up to date or not), until a source or build changes."""
        restored = _plan_from(remembered, plan_config, project)
        self.restored = restored is not None
        if restored is not None:
            self.plan, self._context = restored
        else:
            self._context = context_for(project)
            self.plan = plan(work_from_model(project), self._context, plan_config)
        self._batches = {b.id: b for b in self.plan.batches}
        self.fingerprint = project.fingerprint()

    def remembered(self) -> dict[str, object]:
        """What a store keeps with the model: the plan and its context, without the closure
        index (megabytes of bitsets, rebuilt in tens of milliseconds when first needed)."""
        return {"plan": (self.plan_config, self.plan, replace(self._context, index=None))}

    def context(self) -> PlanContext:
        """One context for the project's life: its key memo survives; its closures are rebuilt
        (lazily) when imports change."""
        return self._context

    # -- changes (call with the lock held, in a thread) --------------------------------

    def apply(self, changes: FileChanges) -> tuple[ModelChange, PlanDiff | None]:
        change = self.project.rescan() if changes.rescan else self.project.update(sorted(changes.sources))
        if change.empty:
            return change, None
        old = self.plan
        if change.config_changed:
            self._context = context_for(self.project)
            self.plan = plan(work_from_model(self.project), self._context, self.plan_config)
        else:
            if change.added or change.removed or change.header_changed:
                self._context = replace(self._context, index=None)
            graph = self.project.graph
            changed = {*change.added, *change.removed, *change.header_changed, *change.body_changed}
            for name in list(changed):
                changed |= graph.dependents(name)
            # A body change may reorder imports (the model's header digest ignores order, the
            # session key does not), so its work item is rebuilt too: one header parse each.
            work = work_from_model(self.project, {*change.added, *change.header_changed, *change.body_changed})
            removed = set(change.removed)
            self.plan = refresh_plan(old, work, changed, self._context, self.plan_config, removed)
        self._batches = {b.id: b for b in self.plan.batches}
        self._context.closures()  # build now, in this thread, not in the next request
        self.fingerprint = self.project.fingerprint()
        diff = diff_plans(old, self.plan)
        return change, None if diff.empty else diff

    def closure_modules(self, keys: list[SessionKey], artifacts: set[str]) -> list[SessionKey]:
        """Keys whose session loaded a module whose `.olean` is among `artifacts`."""
        changed = {m for path in artifacts if (m := self._module_of_artifact(path)) is not None}
        if not changed:
            return []
        index = self.context().closures()
        mask = index.mask(changed)
        return [k for k in keys if index.closure_of(i.module for i in k.imports) & mask]

    def _module_of_artifact(self, path: str) -> str | None:
        """`.../build/lib[/lean]/A/B.olean` names module A.B."""
        parts = Path(path).parts
        if "lib" not in parts:
            return None
        rel = list(parts[len(parts) - parts[::-1].index("lib") :])
        if rel and rel[0] == "lean":
            rel = rel[1:]
        if not rel:
            return None
        stem = rel[-1].split(".")[0]
        return ".".join(escape_part(p) for p in [*rel[:-1], stem])

    # -- sessions ----------------------------------------------------------------------

    def buffer(self, path: str, owner: str | None) -> str | None:
        """`owner`'s unsaved text of `path`, if it has the file open."""
        return None if owner is None else self.buffers.get(owner, {}).get(path)

    def session(self, path: str, owner: str | None = None) -> Session:
        """The session a file needs; `owner`'s unsaved buffer's header wins over the file on disk."""
        project = self.project
        modules = project.modules_at(path)
        local = [m for m in modules if m.package == project.name]
        module = local[0] if local else (modules[0] if modules else None)
        buffer = self.buffer(path, owner)
        if module is not None:
            if project.is_local(module.name):
                (work,) = work_from_model(project, [module.name])
            else:
                work = _work(module, module_options(project, module.name))
        else:
            work = self._outside(path)
        if buffer is not None:
            header = parse_header_text(buffer, project.display(path))
            work = replace(
                work, imports=header_imports(header.imports), is_module=header.is_module,
                prelude=header.prelude, header_end=header.end,
            )  # fmt: skip
        key = session_key(work, self.context(), self.plan_config)
        index = self.context().closures()
        size = index.closure_of(i.module for i in key.imports).bit_count()
        return Session(work, key, size, buffer is not None)

    def _outside(self, path: str) -> ModuleWork:
        """A file no library owns: it still has a header and a session (target none)."""
        text = read_text(path)
        header = parse_header_text(text if isinstance(text, str) else "", path)
        stem = escape_part(Path(path).stem)
        return ModuleWork(
            stem, self.project.display(path), self.project.display(str(Path(path).parent)),
            header_imports(header.imports), header.is_module, header.prelude, None, header.end,
        )  # fmt: skip

    def text_of(self, path: str, owner: str | None = None) -> str:
        buffer = self.buffer(path, owner)
        if buffer is not None:
            return buffer
        text = read_text(path)
        return text if isinstance(text, str) else ""

    def batch(self, key_digest: str) -> Batch | None:
        return self._batches.get(key_digest)

    def is_known(self, path: str, owner: str | None = None) -> bool:
        """Is `path` a module or an open buffer (answerable without reading the disk)?"""
        return self.buffer(path, owner) is not None or bool(self.project.modules_at(path))

    def owns(self, path: str) -> bool:
        return os.path.abspath(path).startswith(str(self.root) + os.sep)


def _work(module: Module, options: LeanOptions) -> ModuleWork:
    """A work item for a module the model reached outside the walked set (a dependency's)."""
    header = module.header
    return ModuleWork(
        module.name, module.source.shown, ".", header_imports(header.imports), header.is_module, header.prelude,
        module.library, header.end, options,
    )  # fmt: skip


def _plan_from(remembered: object, config: PlanConfig, project: LakeProject) -> tuple[Plan, PlanContext] | None:
    if not (isinstance(remembered, tuple) and len(remembered) == 3):
        return None
    made_under, stored_plan, context = remembered
    if made_under != config or not isinstance(stored_plan, Plan) or not isinstance(context, PlanContext):
        return None
    if context.graph is not project.graph:  # pickled with another model: never mix them
        return None
    return stored_plan, context
