"""Two `check` processes and the daemon write one store at once; one is killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from lean_batchd.store.database import checksum, store_file
from lean_batchd.store.location import project_folder
from lean_batchd.testing.workload import generate_workload
from tests.test_check_cli import lean_batchd
from tests.test_terminal import SIM  # the `daemon` fixture's: an outcome's key names the worker command
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def _check(files: list[str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "check", *files, *SIM, "--jsonl", "-q", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def test_two_checks_and_the_daemon_writing_at_once_leave_a_consistent_store(tmp_path: Path, daemon: Path) -> None:
    work = generate_workload(tmp_path / "work", files=60, headers=6)
    files = sorted(str(p) for p in work.files.glob("*.lean"))
    first, second, third = files[:20], files[20:40], files[40:]
    a = _check(first, "--no-daemon")
    b = _check(second, "--no-daemon")
    c = _check(third, "--socket", str(daemon))  # the daemon elaborates and writes these
    assert b.stdout is not None
    reported_by_b = []
    for line in b.stdout:
        reported_by_b.append(json.loads(line)["path"])
        if len(reported_by_b) == 3:
            os.kill(b.pid, signal.SIGKILL)  # mid-run: its next outcomes are being elaborated or written
            break
    b.wait(timeout=60)
    for proc in (a, c):
        proc.communicate(timeout=180)
        assert proc.returncode == 0
    raw = sqlite3.connect(store_file(project_folder(work.root.resolve())))
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = raw.execute("SELECT key, path, data, checksum FROM results").fetchall()
    raw.close()
    assert all(bytes(c) == checksum(k, bytes(d)) for k, _, d, c in rows)
    stored = {p for _, p, _, _ in rows}
    assert set(first) | set(third) | set(reported_by_b) <= stored  # the killed run lost only what it had not finished
    again = lean_batchd("check", *files, *SIM, "--no-daemon", "--json")
    fresh = lean_batchd("check", *files, *SIM, "--no-daemon", "--json", "--no-cache")
    again_files = {f["path"]: f for f in json.loads(again.stdout)["files"]}
    fresh_files = {f["path"]: f for f in json.loads(fresh.stdout)["files"]}
    assert all(again_files[p]["cached"] for p in stored)
    same = ("status", "messages", "sorries", "errors", "warnings")
    assert all({k: again_files[p][k] for k in same} == {k: fresh_files[p][k] for k in same} for p in files)
