"""Bounded memory as users see it: the derived budget, `check --json`'s `memory` object, a file
stopped for memory, the daemon's status and `workerChanged` (SIMULATED REPL, real allocations)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lean_batchd.testing.workload import generate_workload
from lean_batchd.workers.limits import MemoryLimits, machine_memory
from tests.server.test_cancellation import Client, document
from tests.server.test_daemon import receive
from tests.test_check_cli import SIM, lean_batchd
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)["summary"]
    return result


@contextlib.contextmanager
def serving(socket: Path, *flags: str) -> Iterator[None]:
    """A SIMULATED daemon on `socket` (no prewarm), answering once this is entered."""
    serve = [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{socket}", *SIM, "--no-prewarm"]
    daemon = subprocess.Popen([*serve, *flags], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_check_is_bounded_by_default_and_reports_its_memory(demo: Path) -> None:
    before = machine_memory()
    memory = summary(lean_batchd("check", str(demo), *SIM, "--no-daemon", "--json"))["memory"]
    after = machine_memory()
    expected = {round(MemoryLimits.derived(m).budget_mb or 0) for m in (before, after)}
    assert min(expected) - 64 <= memory["budgetMb"] <= max(expected) + 64  # half the machine, 3/4 of available
    assert 0 < memory["peakChargedMb"] < memory["budgetMb"]
    assert memory["recycled"] == 0 and memory["recycles"] == {}


def test_simulated_growth_recycles_and_says_why(tmp_path: Path) -> None:
    work = generate_workload(tmp_path / "work", files=3, headers=1)  # three files, one REPL session
    growth = ["--sim-memory-mb", "20", "--sim-memory-mb-per-command", "40", "--worker-max-growth-mb", "50"]
    done = lean_batchd("check", str(work.files), *SIM, *growth, "--no-daemon", "--json")
    memory = summary(done)["memory"]
    assert memory["recycles"] == {"memory-growth": 1}  # after the second file: 80 MB grown, over 50
    assert memory["recycled"] == 1 and memory["peakChargedMb"] >= 20 + 2 * 40
    assert summary(done)["statuses"]["ok"] == 3


def test_a_file_over_the_hard_ceiling_gets_a_memory_outcome(demo: Path) -> None:
    greedy = demo / "src/Demo/Scratch.lean"
    greedy.write_text(greedy.read_text() + "\n-- sim:grow=400 -- sim:slow=20\n")
    began = time.monotonic()
    done = lean_batchd("check", str(demo / "src/Demo"), *SIM, "--worker-max-mb", "150", "--no-daemon", "--json")
    assert done.returncode == 1 and time.monotonic() - began < 20
    files = {Path(f["path"]).name: f for f in json.loads(done.stdout)["files"]}
    assert files["Scratch.lean"]["status"] == "memory" and "hard ceiling of 300 MB" in files["Scratch.lean"]["detail"]
    assert {f["status"] for name, f in files.items() if name != "Scratch.lean"} == {"ok"}
    memory = json.loads(done.stdout)["summary"]["memory"]
    assert memory["recycles"] == {"memory-hard": 1}


def test_the_daemon_shows_growth_and_recycles(demo: Path, tmp_path: Path) -> None:
    socket = tmp_path / "d.sock"
    growth = ["--sim-memory-mb", "20", "--sim-memory-mb-per-command", "40", "--worker-max-growth-mb", "100"]
    with serving(socket, *growth):
        client = Client(socket, demo)
        main = demo / "Main.lean"
        changes: list[dict[str, Any]] = []
        for _ in range(4):
            msg_id = client.start("$/leanBatchd/run", document(main, command="def x := 1"))
            while True:
                message = receive(client.sock)
                if message.get("method") == "$/leanBatchd/workerChanged":
                    changes.append(message["params"])  # type: ignore[arg-type]
                if message.get("id") == msg_id:
                    assert "result" in message, message
                    break
        status = client.call("$/leanBatchd/status")["result"]["pool"]
        assert status["recycles"] == {"memory-growth": 1}  # 3 commands of 40 MB passed the 100 MB growth limit
        assert status["budgetMb"] > 0 and status["limits"]["maxGrowthMb"] == 100 and status["limits"]["derivedFrom"]
        (worker,) = [w for w in status["workers"] if w["state"] == "warm"]
        assert worker["recycles"] == 1 and worker["requests"] == 1 and 30 <= worker["growthMb"] <= 50
        assert any(c["recycles"] == 1 and c["growthMb"] >= 0 for c in changes)
        assert max(c["growthMb"] for c in changes) >= 80  # two commands; the third retires it for its warm spare
        text = lean_batchd("status", "--socket", str(socket)).stdout
        assert "recycled: 1 memory-growth" in text and "since import" in text
        client.close()


def test_worker_limits_given_to_check_apply_even_when_a_daemon_runs(tmp_path: Path) -> None:
    """A running daemon's workers keep the limits it started with: given limits run in this
    process, and `check` says so instead of dropping them without a word."""
    work = generate_workload(tmp_path / "work", files=3, headers=1)
    socket = tmp_path / "d.sock"
    with serving(socket):
        growth = ["--sim-memory-mb-per-command", "40", "--worker-max-growth-mb", "50", "--memory-budget", "900"]
        done = lean_batchd("check", str(work.files), *SIM, *growth, "--socket", str(socket), "--no-cache", "--json")
        memory = summary(done)["memory"]
        assert memory["budgetMb"] == 900 and memory["recycles"] == {"memory-growth": 1}
        assert "--memory-budget" in done.stderr and "workers of this process" in done.stderr
        plain = lean_batchd("check", str(work.files), *SIM, "--socket", str(socket), "--no-cache", "--json")
        assert "the shared daemon" in plain.stderr  # no limits given: the daemon serves, as before
        slow = lean_batchd("check", str(work.files), *SIM, "--sim-import-seconds", "0.9", "--socket", str(socket))
        assert "the shared daemon" in slow.stderr and "--sim-import-seconds applies to workers" in slow.stderr


def test_a_recycled_sessions_editors_keep_seeing_it_warm(demo: Path, tmp_path: Path) -> None:
    """Editors keep one state per session: a worker retiring after its spare is warm must not
    end the session's `workerChanged` story as `dead`."""
    socket = tmp_path / "d.sock"
    with serving(socket, "--worker-max-requests", "2"):
        client = Client(socket, demo)
        main = demo / "Main.lean"
        states: list[str] = []
        for _ in range(5):
            msg_id = client.start("$/leanBatchd/run", document(main, command="def x := 1"))
            while True:
                message = receive(client.sock)
                if message.get("method") == "$/leanBatchd/workerChanged":
                    states.append(message["params"]["state"])  # type: ignore[index]
                if message.get("id") == msg_id:
                    break
        time.sleep(1.0)  # the old worker's retirement lands after the answer
        client.sock.settimeout(0.5)
        with contextlib.suppress(TimeoutError, OSError):
            while True:
                message = receive(client.sock)
                if message.get("method") == "$/leanBatchd/workerChanged":
                    states.append(message["params"]["state"])  # type: ignore[index]
        status = client.call("$/leanBatchd/status")["result"]["pool"]
        assert status["recycles"], status  # workers were recycled after 2 requests
        assert {w["state"] for w in status["workers"]} == {"warm"}  # (with a spare a request ahead)
        assert states[-1] == "warm" and "dead" not in states and "retiring" not in states, states
        client.close()
