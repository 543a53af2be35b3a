"""One project the daemon serves: its model, the snapshot queries read, and unsaved buffers.

Queries read `snapshot`, an immutable value the project's updater replaces
with one assignment (`install`): they never take a lock and never wait for an
update. The `LakeProject` itself is touched only under `lock`, in a thread
(`model_thread`): by the updater while it changes the model, and by the few
questions only the model can answer (an unsaved header's resolution, stale
build artifacts); the lock is not released while such a thread still touches
the model, even when the request that started it is cancelled.

Unsaved buffers belong to the connection (the `owner`) that opened them: the
project holds the union of its live owners' buffers, and a question about a
file is answered for one owner, from that owner's buffer or else from disk.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from ..lake.files import read_text
from ..lake.names import escape_part
from ..lake.project import LakeProject
from ..plan.keys import SessionKey
from ..plan.planner import Plan, PlanConfig, PlanContext
from ..workers.shielding import run_to_end
from .revision import first_snapshot
from .snapshot import ProjectSnapshot, Session, outside_work

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


def disk_text(path: str) -> str:
    """A file's text as a session sees it ("" when it cannot be read). Blocking: call in a thread."""
    text = read_text(path)
    return text if isinstance(text, str) else ""


class ManagedProject:
    def __init__(self, project: LakeProject, plan_config: PlanConfig, remembered: object = None) -> None:
        """Plans and diagnoses the whole project: call it in a thread. `remembered`: what
        `remembered()` gave for this very model, from a store; the plan is taken from it when it
        was made under `plan_config`, else planned afresh."""
        self.project = project
        self.root = project.root.root
        self.root_text = str(self.root)
        self.root_prefix = self.root_text + os.sep
        self.plan_config = plan_config
        self.lock = asyncio.Lock()
        restored = _plan_from(remembered, plan_config, project)
        self.restored = restored is not None
        self.snapshot: ProjectSnapshot = first_snapshot(project, plan_config, restored)
        self.buffers: dict[str, dict[str, str]] = {}
        """Owner (a connection) -> path -> unsaved text."""
        self.lake_lock = asyncio.Lock()
        self.lake_verdicts: dict[str, bool] = {}
        """Lake's answer per imported module (up to date or not), until a source or build changes."""

    def remembered(self, snap: ProjectSnapshot) -> dict[str, object]:
        """What a store keeps with the model: `snap`'s plan (settled for the model as it is) and
        its context over the model's own graph, without the closure index (megabytes of bitsets,
        rebuilt in tens of milliseconds when first needed). Call with the lock held."""
        assert snap.plan_generation == snap.generation == self.snapshot.generation
        context = replace(snap.context, graph=self.project.graph, index=None)
        return {"plan": (self.plan_config, snap.plan, context)}

    def context(self) -> PlanContext:
        """The current snapshot's planning context (its key memo, its closure index)."""
        return self.snapshot.context

    def install(self, snap: ProjectSnapshot) -> ProjectSnapshot:
        """Make `snap` what queries read, keeping whatever the current snapshot has that is newer
        (a plan settled, or diagnostics brought up to date, while `snap` was being built)."""
        current = self.snapshot
        if snap.generation < current.generation:
            snap, current = current, snap
        self.snapshot = snap.with_plan_of(current).with_diagnostics_of(current)
        return self.snapshot

    # -- sessions ----------------------------------------------------------------------

    def buffer(self, path: str, owner: str | None) -> str | None:
        """`owner`'s unsaved text of `path`, if it has the file open."""
        return None if owner is None else self.buffers.get(owner, {}).get(path)

    async def session(self, path: str, owner: str | None = None) -> tuple[ProjectSnapshot, Session]:
        """The session a file needs, from the current snapshot; `owner`'s unsaved buffer's header
        wins over the file on disk. Only a file no module is, and no buffer holds, is read (in a
        thread)."""
        snap = self.snapshot
        buffer = self.buffer(path, owner)
        shown = self.project.display(path)
        name = snap.module_at(path)
        if name is not None:
            work = snap.work_of(name)
        else:
            text = buffer if buffer is not None else await asyncio.to_thread(disk_text, path)
            work = outside_work(path, text, shown, self.project.display(str(Path(path).parent)))
        return snap, snap.session(path, work, buffer, shown)

    async def text_of(self, path: str, owner: str | None = None) -> str:
        buffer = self.buffer(path, owner)
        return buffer if buffer is not None else await asyncio.to_thread(disk_text, path)

    def owns(self, path: str) -> bool:
        return os.path.abspath(path).startswith(str(self.root) + os.sep)

    # -- build artifacts ---------------------------------------------------------------

    def stale_keys(self, keys: list[SessionKey], artifacts: set[str]) -> list[SessionKey]:
        """Keys whose session loaded a module whose `.olean` is among `artifacts`."""
        changed = {m for path in artifacts if (m := _module_of_artifact(path)) is not None}
        if not changed:
            return []
        index = self.snapshot.context.closures()
        mask = index.mask(changed)
        return [k for k in keys if index.closure_of(i.module for i in k.imports) & mask]


def _plan_from(remembered: object, config: PlanConfig, project: LakeProject) -> tuple[Plan, PlanContext] | None:
    if not (isinstance(remembered, tuple) and len(remembered) == 3):
        return None
    made_under, stored_plan, context = remembered
    if made_under != config or not isinstance(stored_plan, Plan) or not isinstance(context, PlanContext):
        return None
    if context.graph is not project.graph:  # pickled with another model: never mix them
        return None
    return stored_plan, context


def _module_of_artifact(path: str) -> str | None:
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
