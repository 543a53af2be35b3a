"""What a project's store holds, and emptying it: `lean-batchd cache info` and `cache clear`.

Clearing deletes the rows rather than the file: the daemon and other command
lines may have the file open, and must see it emptied, not keep writing to a
file nobody will read again.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from .database import StoreDatabase, folder_lock, store_file


@dataclass(frozen=True, slots=True)
class Run:
    started_ns: int
    pid: int
    command: str
    namespace: str
    hits: int
    misses: int
    stored: int

    @property
    def hit_rate(self) -> float | None:
        asked = self.hits + self.misses
        return self.hits / asked if asked else None

    def to_json(self) -> dict[str, object]:
        return {
            "startedNs": self.started_ns,
            "pid": self.pid,
            "command": self.command,
            "namespace": self.namespace,
            "hits": self.hits,
            "misses": self.misses,
            "stored": self.stored,
            "hitRate": self.hit_rate,
        }


@dataclass(frozen=True, slots=True)
class StoreInfo:
    folder: Path
    exists: bool
    size_bytes: int
    """The database with its write-ahead log."""
    models: int
    answers: int
    """`discover` and `plan` answers remembered with what they were computed from."""
    results: dict[str, int]
    """Outcomes per namespace (`lean`, `simulated`)."""
    runs: tuple[Run, ...]
    """The last runs that asked the result cache, newest first."""

    def to_json(self) -> dict[str, object]:
        return {
            "folder": str(self.folder),
            "exists": self.exists,
            "sizeBytes": self.size_bytes,
            "models": self.models,
            "answers": self.answers,
            "results": dict(self.results),
            "runs": [r.to_json() for r in self.runs],
        }


def _size(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += os.stat(f"{path}{suffix}").st_size
    return total


def store_info(folder: Path, last_runs: int = 10) -> StoreInfo:
    path = store_file(folder)
    if not path.exists():
        return StoreInfo(folder, False, 0, 0, 0, {}, ())
    database = StoreDatabase(folder)
    try:
        models = database.query("SELECT count(*) FROM models")
        answers = database.query("SELECT count(*) FROM answers")
        results = database.query("SELECT namespace, count(*) FROM results GROUP BY namespace ORDER BY namespace")
        runs = database.query(
            "SELECT started_ns, pid, command, namespace, hits, misses, stored FROM runs ORDER BY id DESC LIMIT ?",
            (last_runs,),
        )
    finally:
        database.close()
    return StoreInfo(
        folder,
        True,
        _size(path),
        int(models[0][0]) if models else 0,
        int(answers[0][0]) if answers else 0,
        {str(n): int(c) for n, c in results},
        tuple(Run(*row) for row in runs),
    )


def clear_store(folder: Path) -> int:
    """Delete everything the store holds and shrink the file; returns the bytes it took before."""
    path = store_file(folder)
    if not path.exists():
        return 0
    before = _size(path)
    database = StoreDatabase(folder)
    try:
        tables = ("models", "results", "runs", "answers")
        database.transaction([(f"DELETE FROM {t}", ()) for t in tables], "clearing the store")
        with folder_lock(folder):
            database.query("PRAGMA wal_checkpoint(TRUNCATE)")
            database.query("VACUUM")
    finally:
        database.close()
    return before


def project_folders(home: Path) -> list[Path]:
    """Every project's store folder under the cache home."""
    projects = home / "projects"
    if not projects.is_dir():
        return []
    return sorted(p for p in projects.iterdir() if p.is_dir())
