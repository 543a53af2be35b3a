"""File-system questions about paths that come from outside (lakefiles, watchers, imports).

`Path.is_dir` raises for a path part over the file system's limit or a name
with a NUL byte; a lakefile can write either. These answer False instead.
"""

from __future__ import annotations

import os
from pathlib import Path


def is_dir(path: Path | str) -> bool:
    return os.path.isdir(path)
