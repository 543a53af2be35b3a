"""The store's file: where it lives, WAL, checksummed rows, damaged files, writers killed mid-write."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from lean_batchd.store.database import StoreDatabase, checksum, store_file
from lean_batchd.store.location import cache_home, project_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "store"


def test_the_store_is_outside_the_sources_under_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = project_folder(tmp_path / "proj")
    assert folder.is_relative_to(tmp_path / "xdg" / "lean-batchd" / "projects")
    assert folder.name.startswith("proj-")
    assert project_folder(tmp_path / "other" / "proj") != folder  # two checkouts never share a store
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG specification says
    assert cache_home() == Path(os.path.expanduser("~")) / ".cache" / "lean-batchd"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    db = StoreDatabase(folder)
    assert db.write("results", "k", b"{}", {"namespace": "lean", "path": "/a", "written_ns": 1, "used_ns": 1})
    db.close()
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert (tmp_path / "xdg" / "lean-batchd" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172")


def test_wal_mode_and_rows_round_trip(folder: Path) -> None:
    db = StoreDatabase(folder)
    assert db.write("models", "m", b"\x00model", {"written_ns": 5})
    row = db.read("models", "m", ["written_ns"])
    assert row is not None and row.data == b"\x00model" and row.columns == (5,)
    assert db.read("models", "absent") is None
    assert db.query("PRAGMA journal_mode") == [("wal",)]
    db.close()


def test_a_damaged_row_is_never_served_and_is_dropped(folder: Path) -> None:
    db = StoreDatabase(folder)
    db.write("results", "key", b'{"status": "ok"}', {"namespace": "lean", "path": "/a", "written_ns": 1, "used_ns": 1})
    db.close()
    raw = sqlite3.connect(store_file(folder))
    raw.execute(
        "UPDATE results SET data = ? WHERE key = 'key'", (b'{"status": "errors"}',)
    )  # torn: data without its checksum
    raw.commit()
    raw.close()
    db = StoreDatabase(folder)
    assert db.read("results", "key") is None
    assert db.query("SELECT count(*) FROM results") == [(0,)]
    db.close()


def test_bytes_damaged_inside_the_file_are_never_served(folder: Path) -> None:
    db = StoreDatabase(folder)
    payload = b'{"status": "ok", "marker": "' + b"M" * 200 + b'"}'
    db.write("results", "key", payload, {"namespace": "lean", "path": "/a", "written_ns": 1, "used_ns": 1})
    db.query("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    path = store_file(folder)
    data = bytearray(path.read_bytes())
    at = data.find(b"M" * 200)
    assert at > 0
    data[at + 100] = ord("X")  # what a torn page write leaves: bytes SQLite cannot tell from real ones
    path.write_bytes(bytes(data))
    db = StoreDatabase(folder)
    assert db.read("results", "key") is None
    db.close()


def test_a_file_that_is_no_database_is_moved_aside_and_replaced(folder: Path) -> None:
    folder.mkdir(parents=True)
    store_file(folder).write_bytes(b"this is not SQLite" * 300)
    db = StoreDatabase(folder)
    assert db.write("models", "m", b"x", {"written_ns": 1})
    assert db.read("models", "m") is not None
    db.close()
    assert Path(f"{store_file(folder)}.corrupt").exists()


def _write_forever(folder: str, worker: int) -> None:
    db = StoreDatabase(Path(folder))
    i = 0
    while True:
        rows = [(f"w{worker}-{i}-{j}", os.urandom(2000)) for j in range(20)]
        statements = [
            (
                "INSERT OR REPLACE INTO results (key, namespace, path, written_ns, used_ns, data, checksum) "
                "VALUES (?, 'lean', ?, 1, 1, ?, ?)",
                (key, f"/f{worker}", data, checksum(key, data)),
            )
            for key, data in rows
        ]
        db.transaction(statements, "stress")
        i += 1


def test_writers_killed_mid_write_leave_a_consistent_store(folder: Path) -> None:
    """Several processes write 20-row transactions as fast as they can; each is killed at a
    random moment, most likely inside a transaction. What stays is whole transactions only."""
    observer = StoreDatabase(folder)
    observer.write("models", "seed", b"x", {"written_ns": 1})
    context = multiprocessing.get_context("spawn")
    for round_ in range(4):
        before = observer.query("SELECT count(*) FROM results")[0][0]
        procs = [context.Process(target=_write_forever, args=(str(folder), round_ * 10 + w)) for w in range(3)]
        for p in procs:
            p.start()
        end = time.monotonic() + 60
        while observer.query("SELECT count(*) FROM results")[0][0] < before + 60 and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(0.05 * round_)
        for p in procs:
            assert p.pid is not None
            os.kill(p.pid, signal.SIGKILL)
            p.join()
    observer.close()
    raw = sqlite3.connect(store_file(folder))
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = raw.execute("SELECT key, data, checksum FROM results").fetchall()
    raw.close()
    assert rows, "the writers stored nothing before they were killed"
    assert all(bytes(c) == checksum(k, bytes(d)) for k, d, c in rows)
    per_batch: dict[str, int] = {}
    for key, _, _ in rows:
        batch = key.rsplit("-", 1)[0]
        per_batch[batch] = per_batch.get(batch, 0) + 1
    assert set(per_batch.values()) == {20}, "a transaction was stored in part"
