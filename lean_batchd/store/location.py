"""Where a project's store lives: `$XDG_CACHE_HOME/lean-batchd/projects/<name>-<digest>/`.

Outside the sources on purpose: writing into the project would wake every
watcher on it (ours, Lake's, the editor's) and show up in `git status`; a
source tree may be read-only or shared by users whose results must not mix;
and a cache is exactly what the XDG base directory specification's cache
folder is for (`~/.cache` when `XDG_CACHE_HOME` is unset), which backup tools
skip, helped by the `CACHEDIR.TAG` written there (as ruff and cargo do). The
folder is private (0700): it holds outcomes of the user's code and pickled
models that only this user's processes may read back.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by lean-batchd.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
STORE_FILE = "store.sqlite3"


def cache_home() -> Path:
    """`$XDG_CACHE_HOME/lean-batchd`, else `~/.cache/lean-batchd` (an empty or relative value is
    ignored, as the XDG specification says)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lean-batchd"


def project_folder(root: Path) -> Path:
    """The store folder of the project rooted at `root`: one per root path (results name absolute
    paths, so two checkouts never share one), named so that a person can tell which it is."""
    real = os.path.realpath(root)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(real))[:40] or "root"
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_home() / "projects" / f"{name}-{digest}"


def ensure_folder(folder: Path) -> None:
    """Create the store folder (private) and tag the cache home for backup tools."""
    home = cache_home()
    for level in (home, home / "projects", folder):
        level.mkdir(mode=0o700, parents=True, exist_ok=True)
    tag = home / "CACHEDIR.TAG"
    if not tag.exists():
        try:
            tmp = home / f".CACHEDIR.TAG.{os.getpid()}"
            tmp.write_text(CACHEDIR_TAG)
            os.replace(tmp, tag)
        except OSError:
            pass  # a missing tag only means backups include the cache
