"""Reading files that come from outside: regular files only, never unbounded, never hanging.

A lakefile, manifest, toolchain or module path may name a FIFO (opening it for
reading waits for a writer for ever), a device (`/dev/zero` never ends), a
path part over the file system's limit, or a name with a NUL byte. Every read
here opens without blocking, checks `S_ISREG` on the open descriptor (so a
symlink swapped in between cannot fool it), and stops at a size cap. Failures
are values (`FileProblem`), for the caller to turn into its own diagnostic.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SOURCE_LIMIT = 64 * 1024 * 1024
"""Largest `.lean` file read (Mathlib's largest is under 1 MB; generated files reach a few MB)."""
CONFIG_LIMIT = 16 * 1024 * 1024
"""Largest lakefile or manifest read (real ones are under 100 KB)."""


class Problem(StrEnum):
    MISSING = "missing"
    NOT_REGULAR = "not-regular"
    TOO_LARGE = "too-large"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class FileProblem:
    kind: Problem
    message: str


def read_capped(path: Path | str, limit: int) -> tuple[bytes, os.stat_result] | FileProblem:
    """The whole content of a regular file of at most `limit` bytes, with its stat."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return FileProblem(Problem.MISSING, "no such file")
    except (OSError, ValueError) as e:
        return FileProblem(Problem.UNREADABLE, f"cannot open: {_reason(e)}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return FileProblem(Problem.NOT_REGULAR, f"not a regular file ({_kind(st.st_mode)}); not read")
        if st.st_size > limit:
            return FileProblem(Problem.TOO_LARGE, f"{st.st_size} bytes, over the {limit}-byte limit; not read")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                return FileProblem(Problem.TOO_LARGE, f"grew over the {limit}-byte limit while read; not read")
        return b"".join(chunks), st
    except OSError as e:
        return FileProblem(Problem.UNREADABLE, f"cannot read: {_reason(e)}")
    finally:
        os.close(fd)


def read_text(path: Path | str, limit: int = SOURCE_LIMIT) -> str | FileProblem:
    """A regular file's text (UTF-8, undecodable bytes replaced), within `limit` bytes."""
    read = read_capped(path, limit)
    return read if isinstance(read, FileProblem) else read[0].decode("utf-8", errors="replace")


def is_dir(path: Path | str) -> bool:
    """`Path.is_dir` raises for an over-long name or a NUL byte; this answers False."""
    return os.path.isdir(path)


def is_file(path: Path | str) -> bool:
    """A regular file (or a link to one); False for FIFOs, devices and impossible names."""
    return os.path.isfile(path)


def _reason(e: BaseException) -> str:
    return (e.strerror if isinstance(e, OSError) and e.strerror else str(e)) or type(e).__name__


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"
