"""Reading module sources: content digest, parsed header, and a stat cache.

A file is read once, in full, because its content digest needs every byte;
the header parser only decodes a bounded prefix of those bytes. The stat
cache keys on (mtime, ctime, size, inode, device): ctime cannot be set by
tools, so an edit that restores the mtime is still seen. Entries whose
timestamps are too close to when they were read ("racy", as git calls them)
are re-read on the next rescan, because a second write within the
filesystem's timestamp granularity would otherwise look unchanged.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .files import SOURCE_LIMIT, FileProblem, read_capped
from .header import Header, parse_header
from .inputs import StatKey, settled, stat_key


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    shown: str
    """The path as users see it (relative to the project root when inside it)."""
    key: StatKey
    read_at_ns: int
    digest: str
    header: Header
    header_digest: str

    @property
    def mtime_ns(self) -> int:
        return self.key[0]

    @property
    def size(self) -> int:
        return self.key[2]

    def trusted_for(self, key: StatKey) -> bool:
        """Can `key` be taken to mean "unchanged" without reading the file again?"""
        return key == self.key and settled(key, self.read_at_ns)

    def __reduce__(self) -> tuple[type[SourceFile], tuple[object, ...]]:
        """Pickled as its constructor call: a stored model loads twice as fast as from dataclass state."""
        fields = (self.path, self.shown, self.key, self.read_at_ns, self.digest, self.header, self.header_digest)
        return (SourceFile, fields)


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _from_bytes(path: str, shown: str, key: StatKey, read_at_ns: int, data: bytes) -> SourceFile:
    header = parse_header(data, shown)
    digest = hashlib.sha256(data).hexdigest()
    return SourceFile(path, shown, key, read_at_ns, digest, header, digest_text(header.canonical()))


def read_source(path: str, shown: str | None = None) -> SourceFile | Diagnostic:
    """Read, hash and parse one file; a file that cannot be read (missing, unreadable, a FIFO or
    device, over `SOURCE_LIMIT`) is an `io-error` diagnostic, never a hang.

    Reading in threads was measured slower here (parsing holds the GIL and
    the readers queue for it at every system call), so reads are sequential.
    """
    started = time.time_ns()
    read = read_capped(path, SOURCE_LIMIT)
    if isinstance(read, FileProblem):
        return diagnostic(Code.IO_ERROR, Severity.ERROR, read.message, shown or path)
    data, st = read
    return _from_bytes(path, shown or path, stat_key(st), started, data)


def source_from_text(path: str, text: str, shown: str | None = None) -> SourceFile:
    """An unsaved editor buffer seen as a source (no stat key: it is never trusted)."""
    data = text.encode("utf-8")
    return _from_bytes(path, shown or path, (0, 0, len(data), 0, 0), 0, data)


class StatCache:
    """Path -> last `SourceFile`, so a rescan re-reads only what changed."""

    def __init__(self) -> None:
        self._entries: dict[str, SourceFile] = {}
        self.reads = 0
        """Files read since this cache was made (or counted from): a stored model re-opened
        later reads only what changed, and this says how much that was."""

    def __len__(self) -> int:
        return len(self._entries)

    def paths(self) -> frozenset[str]:
        """The files it holds a reading of."""
        return frozenset(self._entries)

    def get(self, path: str, key: StatKey) -> SourceFile | None:
        entry = self._entries.get(path)
        if entry is not None and entry.trusted_for(key):
            return entry
        return None

    def peek(self, path: str) -> SourceFile | None:
        """The last reading of `path`, current or not (for files the model keeps current itself)."""
        return self._entries.get(path)

    def put(self, source: SourceFile) -> None:
        self._entries[source.path] = source

    def drop(self, path: str) -> None:
        self._entries.pop(path, None)

    def read(self, path: str, shown: str | None = None) -> SourceFile | Diagnostic:
        """A fresh read of `path` (cached when readable)."""
        self.reads += 1
        fresh = read_source(path, shown)
        if isinstance(fresh, SourceFile):
            self.put(fresh)
        return fresh

    def load(self, path: str, key: StatKey | None, shown: str | None = None) -> SourceFile | Diagnostic:
        """The cached entry when `key` proves it current, else a fresh read (cached)."""
        if key is not None:
            cached = self.get(path, key)
            if cached is not None:
                return cached
        return self.read(path, shown)

    def load_many(self, paths: Sequence[tuple[str, str]]) -> list[SourceFile | Diagnostic]:
        """Fresh reads of many (path, shown) files (a cold start: nothing to trust yet), cached."""
        return [self.read(p, shown) for p, shown in paths]
