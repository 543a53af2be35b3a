"""The identity of the program a worker runs: what a stored outcome depends on besides its inputs.

A worker command names programs by path (`lake env /path/to/repl`, or the
SIMULATED REPL as `python -m` its module). The same path can hold
another build tomorrow, so a program counts by its stat identity (size, mtime,
ctime, inode, device of the resolved file), as ccache counts a compiler by size
and mtime: hashing a REPL binary of a hundred megabytes on every check would
cost more than the check. A `-m` module counts by its source file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil


def program_identity(command: tuple[str, ...]) -> str:
    """A digest of the command and of every program file it names, as they are now."""
    parts: list[object] = []
    for i, arg in enumerate(command):
        if i > 0 and command[i - 1] == "-m":
            parts.append([arg, _file_identity(_module_file(arg))])
        elif os.path.isabs(arg) or (i == 0 and os.sep not in arg):
            path = arg if os.path.isabs(arg) else shutil.which(arg)
            parts.append([arg, _file_identity(path)])
        else:
            parts.append([arg])
    return hashlib.sha256(json.dumps(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _file_identity(path: str | None) -> list[object] | None:
    """The resolved file's stat identity; None when `path` names no file (then only the text counts)."""
    if path is None:
        return None
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(real):
        return None
    return [real, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


@functools.cache
def _module_file(module: str) -> str | None:
    """Where `python -m module` finds the module (without running it)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None
