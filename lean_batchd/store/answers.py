"""Answers remembered with what they were computed from: `discover` or `plan` run again on a
project where nothing changed prints its last answer without loading the model.

This is ccache's direct mode applied to the Lake model: an answer is stored under a key
naming the code that made it, the project root as found from the path asked about, and
the request (command, options, output width, working folder), together with the model's
`ModelInputs` (every folder listing, file and probe its last walk rested on, by stat; the
configuration's digest; `lean --version`). It is served only while every one of those
still holds, which is exactly when a rescan of the stored model would change nothing; a
miss costs those stats and then the ordinary path. Imports stay light (no model, no
parser): a hit is what makes a second run cost about a walk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..lake.inputs import ModelInputs, inputs_unchanged
from ..lake.root import find_lake_root
from .code import code_identity
from .database import StoreDatabase, store_file
from .location import project_folder

log = logging.getLogger(__name__)

ANSWER_FORMAT = 1
KEEP_ANSWERS = 32
"""Answers kept per project (one per distinct request; the oldest go first)."""


@dataclass(frozen=True, slots=True)
class Answer:
    output: str
    exit_code: int


def _where(path: str, request: Sequence[str]) -> tuple[Path, str] | None:
    """The store folder of the project `path` belongs to, and the request's key in it (None
    when there is no project, or no working folder to key by: it was deleted)."""
    search = find_lake_root(Path(path))
    root = search.found
    if root is None:
        return None
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    shape = [
        ANSWER_FORMAT,
        code_identity(),
        [str(root.root), str(root.lakefile), str(root.kind)],
        [d.render() for d in search.diagnostics],  # said by the command too
        cwd,
        list(request),
    ]
    return project_folder(root.root), hashlib.sha256(json.dumps(shape).encode()).hexdigest()


def stored_answer(path: str, request: Sequence[str]) -> Answer | None:
    """The answer remembered for `request` about `path`'s project, if nothing it was computed
    from has changed since. A store that cannot be read (another user's cache folder) is
    none: the command then runs as without one."""
    try:
        where = _where(path, request)
        if where is None or not store_file(where[0]).exists():
            return None
    except OSError as e:
        log.info("store: not looking for a remembered answer: %s", e)
        return None
    database = StoreDatabase(where[0])
    try:
        row = database.read("answers", where[1])
    finally:
        database.close()
    if row is None:
        return None
    try:
        inputs, answer = pickle.loads(row.data)
    except Exception as e:  # a row of other code: not stored
        log.info("store: a remembered answer cannot be read (%s)", e)
        return None
    if not (isinstance(inputs, ModelInputs) and isinstance(answer, Answer)):
        return None
    return answer if inputs_unchanged(inputs) else None


def remember_answer(path: str, request: Sequence[str], inputs: ModelInputs, answer: Answer) -> bool:
    where = _where(path, request)
    if where is None:
        return False
    data = pickle.dumps((inputs, answer), protocol=pickle.HIGHEST_PROTOCOL)
    database = StoreDatabase(where[0])
    try:
        return database.write_newest("answers", where[1], data, KEEP_ANSWERS)
    finally:
        database.close()
