"""The code a stored value was made by: a value of other code is never read back as ours."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from pathlib import Path

from .. import __version__

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def code_identity() -> str:
    """Our version, Python's, and by stat the source files of the layers whose values are
    stored or whose output is (the Lake model, the planner, the command line): a checkout or
    an edit of any of them makes every stored model and answer unreadable."""
    files = []
    for folder in (_PACKAGE / "lake", _PACKAGE / "plan", _PACKAGE):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                st = entry.stat()
                files.append([folder.name, entry.name, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps([__version__, sys.version, files]).encode()).hexdigest()
