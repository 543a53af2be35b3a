"""One project's SQLite store, shared by the daemon and any number of command-line processes.

- *WAL* (readers never wait for the writer; one writer at a time), set once when
  the file is created, under a file lock: `PRAGMA journal_mode=WAL` itself fails
  at once under contention instead of waiting (pyvista#9153), and the mode then
  persists in the file. Writes take `BEGIN IMMEDIATE`, so a transaction never
  finds out at its first write that another process committed first
  (`SQLITE_BUSY_SNAPSHOT`), and wait up to `BUSY_SECONDS` for the lock.
- *Crashes*: a process killed mid-write loses its open transaction and nothing
  else (SQLite's journal). `synchronous=NORMAL` keeps commits cheap; after a
  power loss the last commits may be gone, never half-present.
- *Torn or damaged rows are never served*: every row carries a checksum of its
  key and data, checked on every read; a row that fails is deleted and read as
  absent. A file that is no database at all, or that SQLite finds malformed,
  is moved aside (`*.corrupt`) and started afresh.
- *Best effort*: the store is a cache. A locked, full or unwritable store costs
  speed, never an answer: failures are logged and read as "not stored".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .location import ensure_folder

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""In the file name: a store of another schema is another file, never misread."""
BUSY_SECONDS = 10.0
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY, written_ns INTEGER NOT NULL, data BLOB NOT NULL, checksum BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, namespace TEXT NOT NULL, path TEXT NOT NULL,
    written_ns INTEGER NOT NULL, used_ns INTEGER NOT NULL, data BLOB NOT NULL, checksum BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_path ON results (namespace, path, used_ns);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_ns INTEGER NOT NULL, pid INTEGER NOT NULL,
    command TEXT NOT NULL, namespace TEXT NOT NULL,
    hits INTEGER NOT NULL, misses INTEGER NOT NULL, stored INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, written_ns INTEGER NOT NULL, data BLOB NOT NULL, checksum BLOB NOT NULL);
"""
_TABLES = ("meta", "models", "results", "runs", "answers")


def store_file(folder: Path) -> Path:
    return folder / f"store-v{SCHEMA_VERSION}.sqlite3"


def checksum(key: str, data: bytes) -> bytes:
    """What a row's `checksum` column holds: a torn or altered key or data never matches it."""
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape") + b"\x00" + data, digest_size=16).digest()


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the store folder, held while the file is created or replaced."""
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    data: bytes
    columns: tuple[Any, ...]
    """The other columns asked for, in order."""


class StoreDatabase:
    """The store file of one project folder. Each thread gets its own connection (the engine
    reads results on its event loop and writes models from its model thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = store_file(folder)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self.broken: str | None = None
        """Why this process stopped using the store (None while it works)."""

    # -- connections --------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        if self.broken is not None:
            return None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = self._open()
        except (OSError, sqlite3.Error) as e:
            if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorname", "") in _CORRUPT:
                conn = self._replace_corrupt(e)
            if conn is None:
                self._give_up(f"cannot open {self.path}: {e}")
                return None
        self._local.conn = conn
        with self._guard:
            self._connections.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        ensure_folder(self.folder)
        conn = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal" or not self._has_schema(conn):
                with folder_lock(self.folder):
                    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
            conn.execute("PRAGMA journal_size_limit=67108864")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _has_schema(conn: sqlite3.Connection) -> bool:
        """Every table there (a store of an older release gains the tables added since)."""
        marks = ", ".join("?" * len(_TABLES))
        query = f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({marks})"
        found: int = conn.execute(query, _TABLES).fetchone()[0]
        return found == len(_TABLES)

    def _replace_corrupt(self, error: sqlite3.Error) -> sqlite3.Connection | None:
        """Move a damaged file aside (with its WAL) and start an empty one."""
        log.warning("store %s is damaged (%s); moving it aside and starting afresh", self.path, error)
        try:
            with folder_lock(self.folder):
                for suffix in ("", "-wal", "-shm"):
                    damaged = Path(f"{self.path}{suffix}")
                    if damaged.exists():
                        os.replace(damaged, Path(f"{self.path}{suffix}.corrupt"))
            return self._open()
        except (OSError, sqlite3.Error) as e:
            log.warning("cannot replace the damaged store %s: %s", self.path, e)
            return None

    def _give_up(self, why: str) -> None:
        if self.broken is None:
            log.warning("not using the store: %s", why)
        self.broken = why

    def _failed(self, e: sqlite3.Error, doing: str) -> None:
        """A damaged file is replaced (this process then stops using it); anything else (locked
        past the timeout, disk full) only skips this operation."""
        if getattr(e, "sqlite_errorname", "") in _CORRUPT:
            self.close()
            self._replace_corrupt(e)
            self._give_up(f"the store was damaged while {doing}: {e}")
        else:
            log.warning("store: %s failed: %s", doing, e)

    def close(self) -> None:
        with self._guard:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    # -- rows ---------------------------------------------------------------------------

    def read(self, table: str, key: str, columns: Sequence[str] = ()) -> Row | None:
        """The row stored under `key`, if its checksum holds (a failing row is deleted)."""
        conn = self._connection()
        if conn is None:
            return None
        wanted = "".join(f", {c}" for c in columns)
        try:
            found = conn.execute(f"SELECT data, checksum{wanted} FROM {table} WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as e:
            self._failed(e, f"reading {table}")
            return None
        if found is None:
            return None
        data, check = bytes(found[0]), bytes(found[1])
        if check != checksum(key, data):
            log.warning("store: a %s row failed its checksum (torn or damaged); dropped", table)
            self.delete(table, [key])
            return None
        return Row(key, data, tuple(found[2:]))

    def write(self, table: str, key: str, data: bytes, columns: dict[str, Any], prune: str | None = None) -> bool:
        """Insert or replace one row in its own transaction; `prune`, a statement run in the same
        transaction (with the row's columns as named parameters), keeps the table bounded."""
        names = ["key", "data", "checksum", *columns]
        values: dict[str, Any] = {"key": key, "data": data, "checksum": checksum(key, data), **columns}
        statement = f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
        return self.transaction([(statement, values)] + ([(prune, values)] if prune else []), f"writing {table}")

    def write_newest(self, table: str, key: str, data: bytes, keep: int) -> bool:
        """Write one row of a table that keeps only its `keep` most recently written rows."""
        prune = f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM {table} ORDER BY written_ns DESC LIMIT {keep})"
        return self.write(table, key, data, {"written_ns": now_ns()}, prune)

    def delete(self, table: str, keys: Sequence[str]) -> None:
        self.transaction([(f"DELETE FROM {table} WHERE key = ?", (k,)) for k in keys], f"deleting from {table}")

    def transaction(self, statements: Sequence[tuple[str, Any]], doing: str) -> bool:
        """Run statements in one `BEGIN IMMEDIATE` transaction: all or nothing."""
        conn = self._connection()
        if conn is None:
            return False
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement, params in statements:
                    conn.execute(statement, params)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            self._failed(e, doing)
            return False
        return True

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (empty when the store cannot be read)."""
        conn = self._connection()
        if conn is None:
            return []
        try:
            return list(conn.execute(statement, params).fetchall())
        except sqlite3.Error as e:
            self._failed(e, "reading")
            return []


def now_ns() -> int:
    return time.time_ns()
