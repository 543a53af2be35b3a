"""What a model was built from, and whether it still is, told by `stat` alone.

A rescan of a stored model lists every walked folder, stats every file and
re-reads what changed. When nothing changed, the same verdict can come from
stats of what the walk saw: a folder's mtime moves whenever an entry is added,
removed or renamed in it (git's untracked cache rests on the same rule), and a
file's stat identity moves with its content. `ModelInputs` records those stats
(each taken before what depended on it was read), the configuration files'
digest and `lean --version`; `inputs_unchanged` says whether all still hold.
Timestamps within the racy window of when they were seen are never vouched for.

Deliberately light (no parser, no model): a command that answers from what it
remembered imports this and not the Lake model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .files import CONFIG_LIMIT, FileProblem, read_capped
from .toolchain import lean_version

RACY_WINDOW_NS = 1_000_000_000

StatKey = tuple[int, int, int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


def probe(path: str) -> StatKey | None:
    """The stat identity of `path` (links followed), None when there is nothing there."""
    try:
        return stat_key(os.stat(path))
    except (OSError, ValueError):
        return None


def settled(key: StatKey, seen_ns: int) -> bool:
    """Was `key` seen more than the racy window after its last change? Only then does an
    unchanged key mean unchanged content (a second write in the same timestamp tick would not
    move it)."""
    return max(key[0], key[1]) + RACY_WINDOW_NS < seen_ns


def config_digest(paths: frozenset[str]) -> str:
    """Digest of the configuration files' contents (an absent or unreadable one by its problem)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        read = read_capped(path, CONFIG_LIMIT)
        mark = read.kind if isinstance(read, FileProblem) else hashlib.sha256(read[0]).hexdigest()
        h.update(f"{path}\x00{mark}\x00".encode())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class ModelInputs:
    root: str
    stats: tuple[tuple[str, StatKey | None], ...]
    """Each folder walked, file read and path probed, with what `stat` said (None: absent)."""
    config_files: frozenset[str]
    config_digest: str
    lean_version: str | None
    """What `lean --version` said in the root, when the model asked (`asked_lean`)."""
    asked_lean: bool


def inputs_unchanged(inputs: ModelInputs) -> bool:
    for path, key in inputs.stats:
        if probe(path) != key:
            return False
    if config_digest(inputs.config_files) != inputs.config_digest:
        return False
    return not inputs.asked_lean or lean_version(Path(inputs.root)) == inputs.lean_version
