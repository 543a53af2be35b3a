"""The persistent model: a project's Lake model, remembered from one run to the next.

A run opens the model the last run stored. When every stat its last walk rested
on still holds (`lake.inputs`), a rescan would change nothing, and the model is
taken as it is. Otherwise it is rescanned: every file whose
stat identity (mtime, ctime, size, inode, device) matches its stored reading,
read more than a second after it was last written (git's "racy clean" rule,
the in-memory stat cache's own), keeps its stored header parse and content
digest; everything else is read again, and a changed lakefile, manifest,
toolchain or dependency lakefile re-evaluates the libraries and everything
resolved from them, as `LakeProject.rescan` does for a live model. The result
is the model a fresh discovery builds (property-tested), at the cost of the
files that changed.

The stored value is the pickled `LakeProject` (its stat cache included), under
a key naming the code that pickled it (lean-batchd's version and the Lake
layer's source files), the project root and the discovery options: a model of
other code or options is never read back as this one. It is rewritten when
opening it had to re-evaluate the configuration or re-read more than
`REWRITE_AFTER_READS` files, so a run after a one-file edit does not pay for
writing the whole model again; the next run re-reads that file once more.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from ..lake.inputs import inputs_unchanged
from ..lake.project import LakeProject, ProjectOptions
from ..lake.root import RootSearch, find_lake_root
from ..lake.toolchain import lean_version
from .code import code_identity
from .database import StoreDatabase
from .location import project_folder

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
REWRITE_AFTER_READS = 64
KEEP_MODELS = 4
"""Models kept per project (one per set of discovery options in use; models of older code go)."""


@dataclass(frozen=True, slots=True)
class OpenedModel:
    project: LakeProject
    restored: bool
    """Opened from the store (else discovered afresh)."""
    reread: int
    """Files read this time (all of them for a fresh discovery)."""
    reloaded: bool
    """The configuration changed since the model was stored, so libraries were re-evaluated."""
    saved: bool
    """The model was (re)written to the store."""
    key: str | None = None
    """Its key in the store (None when the store was not used)."""
    derived: dict[str, object] = field(default_factory=dict)
    """Values computed from the model and stored with it (a plan), when the model is exactly
    the one they were computed from (restored, and nothing changed since); else empty."""


def model_key(search: RootSearch, options: ProjectOptions) -> str:
    root = search.found
    assert root is not None
    shape = [code_identity(), SNAPSHOT_FORMAT, str(root.root), str(root.lakefile), str(root.kind), repr(options)]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


class ModelStore:
    def __init__(self, database: StoreDatabase) -> None:
        self.database = database

    def load(self, key: str) -> tuple[LakeProject, dict[str, object]] | None:
        row = self.database.read("models", key)
        if row is None:
            return None
        was_enabled = gc.isenabled()
        gc.disable()  # ~500,000 objects at Mathlib scale, nearly all acyclic: the collector would only slow this
        try:
            found = pickle.loads(row.data)
        except Exception as e:  # a model of other code: any error means "not stored"
            log.info("store: the stored model cannot be read (%s); discovering afresh", e)
            return None
        finally:
            # The loaded objects live as long as the model; left in the youngest generation, the next
            # collection would scan all of them (70 ms at Mathlib scale, in whatever runs next).
            gc.freeze()
            if was_enabled:
                gc.enable()
        if not (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], LakeProject)):
            return None
        project, derived = found
        return project, derived if isinstance(derived, dict) else {}

    def save(self, key: str, project: LakeProject, derived: dict[str, object] | None = None) -> bool:
        """Store the model, with values computed from it (pickled together, so they share objects)."""
        try:
            data = pickle.dumps((project, derived or {}), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, RecursionError) as e:
            log.warning("store: the model cannot be stored: %s", e)
            return False
        return self.database.write_newest("models", key, data, KEEP_MODELS)


def open_project(
    path: Path | str, options: ProjectOptions, remember: bool = True, save: bool = True
) -> OpenedModel | RootSearch:
    """The project `path` belongs to, from the store when it holds it (brought up to date),
    else discovered afresh (and, with `save`, stored); or the failed search. A caller that
    stores derived values with the model saves it itself (`save_project`)."""
    search = find_lake_root(Path(path))
    if search.found is None:
        return search
    if not remember:
        project = LakeProject(search.found, options, None, search.diagnostics)
        return OpenedModel(project, False, project.cache.reads, False, False)
    database = StoreDatabase(project_folder(search.found.root))
    try:
        return _open(ModelStore(database), search, options, save)
    finally:
        database.close()


def save_project(key: str, project: LakeProject, derived: dict[str, object] | None = None) -> bool:
    """Store `project` (and values computed from it) under `key` (`OpenedModel.key`)."""
    database = StoreDatabase(project_folder(project.root.root))
    try:
        return ModelStore(database).save(key, project, derived)
    finally:
        database.close()


def _open(models: ModelStore, search: RootSearch, options: ProjectOptions, save: bool) -> OpenedModel:
    assert search.found is not None
    key = model_key(search, options)
    loaded = models.load(key)
    if loaded is None:
        project = LakeProject(search.found, options, None, search.diagnostics)
        return OpenedModel(project, False, project.cache.reads, False, save and models.save(key, project), key)
    stored, derived = loaded
    stored.set_search_notes(search.diagnostics)
    before = stored.cache.reads
    inputs = stored.inputs()
    if inputs is not None and inputs_unchanged(inputs):  # what a rescan finds, by stat alone
        return OpenedModel(stored, True, 0, False, False, key, derived)
    change = stored.rescan()
    reloaded = change.config_changed
    if not reloaded and options.workspace.query_lean_version and _lean_changed(stored):
        stored.reload()
        reloaded = True
    reread = stored.cache.reads - before
    saved = save and (reloaded or reread > REWRITE_AFTER_READS) and models.save(key, stored)
    unchanged = change.empty and not reloaded
    return OpenedModel(stored, True, reread, reloaded, saved, key, derived if unchanged else {})


def _lean_changed(project: LakeProject) -> bool:
    """`lean --version` answers differently than when the model was stored (an elan channel such
    as `stable` moved): the toolchain's identity, in every session key, changed with no file."""
    return lean_version(project.root.root) != project.workspace.toolchain.lean_version
