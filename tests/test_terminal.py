"""The command line as a person sees it in a terminal: interrupts, pipes, widths, one session
id everywhere. Commands run in a real pseudo-terminal (`pty`) of a given size."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
IMPORT_SECONDS = 0.5
SIM = ["--simulate", "--sim-import-seconds", str(IMPORT_SECONDS)]


class Terminal:
    """A command in a pseudo-terminal `columns` wide; `screen` is what it printed, as lines."""

    def __init__(self, argv: list[str], columns: int = 80, cwd: Path | None = None) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            if cwd is not None:
                os.chdir(cwd)
            env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the tty's size decides
            os.execve(sys.executable, [sys.executable, "-m", "lean_batchd", *argv], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.output = b""
        self.code: int | None = None

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.output += data

    def read_until(self, text: str, seconds: float = 30.0) -> None:
        end = time.monotonic() + seconds
        while text not in self.screen() and time.monotonic() < end:
            self.read(0.05)

    def interrupt(self) -> None:
        os.write(self.fd, b"\x03")  # Ctrl-C, as the terminal's line discipline sends SIGINT

    def wait(self, timeout: float = 60.0) -> int:
        end = time.monotonic() + timeout
        while self.code is None and time.monotonic() < end:
            self.read(0.1)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.code = os.waitstatus_to_exitcode(status)
        if self.code is None:
            os.kill(self.pid, signal.SIGKILL)
            raise AssertionError(f"still running after {timeout} s:\n{self.screen()}")
        self.read(0.2)
        os.close(self.fd)
        return self.code

    def screen(self) -> str:
        text = ANSI.sub("", self.output.decode("utf-8", errors="replace"))
        return "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))


def lean_batchd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lean_batchd", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Path]:
    """A shared SIMULATED daemon on its own socket, stopped at the end."""
    sock = tmp_path / "d.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{sock}", *SIM],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def stuck(sock: Path) -> list[str]:
    """Workers that have been starting or importing for longer than an import takes."""
    status = json.loads(lean_batchd("status", "--socket", str(sock), "--json").stdout)
    return [
        f"{w['sessionKey']} {w['state']} for {w['ageSeconds']} s"
        for w in status["pool"]["workers"]
        if w["state"] in ("starting", "importing") and w["ageSeconds"] > IMPORT_SECONDS + 5
    ]


def test_ctrl_c_and_a_closed_pipe_leave_the_daemon_serving_the_same_session(demo: Path, daemon: Path) -> None:
    """20 times in a row: interrupt a daemon-backed `check` (Ctrl-C, or `| head -1`) at some
    point of its run; the client stops at once with one line, and the next `check` of the
    same session is served promptly."""
    folder = demo / "DemoTest"
    for attempt in range(20):
        delay = 0.2 + (attempt % 5) * 0.3  # before, during and after the sessions' imports
        if attempt % 2 == 0:
            term = Terminal(["check", str(folder), *SIM, "--socket", str(daemon)])
            term.read(delay + 0.8)  # the command line itself starts in ~0.8 s
            term.interrupt()
            started = time.monotonic()
            code = term.wait(timeout=10)
            assert time.monotonic() - started < 3, f"attempt {attempt}: slow to stop"
            screen = term.screen()
            assert code in (130, 0), f"attempt {attempt}: exit {code}\n{screen}"
            assert "Traceback" not in screen, screen
            if code == 130:
                assert screen.count("lean-batchd: interrupted") == 1
        else:
            command = [sys.executable, "-m", "lean_batchd", "check", str(folder), *SIM, "--socket", str(daemon)]
            pipe = subprocess.run(
                " ".join(command) + " --jsonl | head -1", shell=True, capture_output=True, text=True, timeout=60,
                executable="/bin/bash",
            )  # fmt: skip
            assert len(pipe.stdout.splitlines()) == 1 and "Traceback" not in pipe.stderr, pipe.stderr
        again = lean_batchd("check", str(folder / "Order.lean"), *SIM, "--socket", str(daemon), "--json", timeout=60)
        assert again.returncode == 0, f"attempt {attempt}: {again.stderr}"
        assert json.loads(again.stdout)["summary"]["statuses"]["ok"] == 1
        assert stuck(daemon) == [], f"attempt {attempt}"


def test_ctrl_c_on_a_private_check_prints_one_line(demo: Path) -> None:
    term = Terminal(["check", str(demo), *SIM, "--no-daemon"])
    term.read_until("0/10 files")  # the progress bar: sessions are starting
    term.interrupt()
    assert term.wait(timeout=15) == 130, term.screen()
    screen = term.screen()
    assert "Traceback" not in screen and screen.count("lean-batchd: interrupted") == 1, screen


def test_check_plan_and_status_fit_the_terminal(demo: Path, daemon: Path) -> None:
    screens = []
    for argv in (
        ["check", "--simulate", str(demo), "--sim-import-seconds", "0.05", "--socket", str(daemon)],
        ["plan", str(demo)],
        ["status", "--socket", str(daemon)],
    ):
        term = Terminal(argv, columns=60, cwd=demo.parent)
        assert term.wait() == 0, term.screen()
        screens.append(term.screen())
        lines = [x for x in screens[-1].splitlines() if not re.match(r"\S+:\d+:\d+: ", x)]  # Lean's messages: whole
        assert lines and all(len(line) <= 60 for line in lines), "\n".join(x for x in lines if len(x) > 60)
    assert "10 files in" in screens[0] and "Plan for demo" in screens[1] and "daemon pid" in screens[2]


def test_one_session_has_one_id_in_plan_check_and_status(demo: Path, daemon: Path) -> None:
    path = demo / "src/Demo/Lemmas.lean"
    plan = json.loads(lean_batchd("plan", str(demo), "--json").stdout)
    (planned,) = [b["id"] for b in plan["batches"] if any(m["module"] == "Demo.Lemmas" for m in b["modules"])]
    private = json.loads(lean_batchd("check", str(path), *SIM, "--no-daemon", "--json").stdout)
    # elaborated again (not answered from the store), so that the daemon starts the session's worker
    shared = json.loads(lean_batchd("check", str(path), *SIM, "--socket", str(daemon), "--json", "--no-cache").stdout)
    status = json.loads(lean_batchd("status", "--socket", str(daemon), "--json").stdout)
    assert private["files"][0]["sessionKey"] == shared["files"][0]["sessionKey"] == planned
    assert [w["sessionKey"] for w in status["pool"]["workers"]] == [planned]
    shown = lean_batchd("plan", str(demo)).stdout
    assert f"\n{planned[:8]}  " in shown  # the table shows the same id's first 8 digits


def test_a_file_in_no_project_is_told_alike_with_and_without_the_daemon(tmp_path: Path, daemon: Path) -> None:
    """Found by a new-user tryout: through the daemon, a file in no Lake project got the LSP
    layer's "outside this connection's workspace" text instead of what a private check says."""
    loose = tmp_path / "loose" / "Loose.lean"
    loose.parent.mkdir()
    loose.write_text("def x : Nat := 1\n")
    told = [lean_batchd("check", str(loose), *SIM, *how) for how in (["--socket", str(daemon)], ["--no-daemon"])]
    assert [t.returncode for t in told] == [2, 2]
    assert told[0].stderr == told[1].stderr and "no lakefile.lean or lakefile.toml at or above" in told[0].stderr


def test_status_and_doctor_see_the_simulated_daemon_without_being_told(demo: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "connect", *SIM], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )  # the per-user SIMULATED daemon, as an editor starts it
    try:
        deadline = time.monotonic() + 30
        while lean_batchd("status").returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        status = lean_batchd("status")
        assert status.returncode == 0 and "SIMULATED REPL, not Lean" in status.stdout, status.stderr
        doctor = json.loads(lean_batchd("doctor", str(demo), "--json").stdout)
        assert [(d["simulated"], d["running"]) for d in doctor["daemons"]] == [(False, False), (True, True)]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        stopped = lean_batchd("stop")
        assert "stopped the daemon" in stopped.stdout and lean_batchd("status").returncode == 3


def test_stop_restart_and_evict(demo: Path, daemon: Path) -> None:
    lean_batchd("check", str(demo / "DemoTest"), *SIM, "--socket", str(daemon))
    before = json.loads(lean_batchd("status", "--socket", str(daemon), "--json").stdout)
    assert len(before["pool"]["workers"]) == 3 and before["daemon"]["pid"]
    evicted = lean_batchd("evict", str(demo / "DemoTest/Order.lean"), "--socket", str(daemon))
    assert evicted.returncode == 0 and "evicted 1 worker" in evicted.stdout
    assert lean_batchd("evict", "--all", "--socket", str(daemon)).stdout.strip() == "evicted 2 workers"
    for odd, says in [(demo / "Nope.lean", "no such file"), (Path(__file__), "not inside a Lake project")]:
        refused = lean_batchd("evict", str(odd), "--socket", str(daemon))
        assert refused.returncode == 1 and says in refused.stderr and "$/" not in refused.stderr, refused.stderr
    restarted = lean_batchd("restart", "--socket", str(daemon))
    assert restarted.returncode == 0 and "restarted the daemon" in restarted.stdout, restarted.stderr
    after = json.loads(lean_batchd("status", "--socket", str(daemon), "--json").stdout)
    assert after["daemon"]["pid"] != before["daemon"]["pid"] and after["daemon"]["argv"] == before["daemon"]["argv"]
    assert lean_batchd("stop", "--socket", str(daemon)).returncode == 0
    assert lean_batchd("status", "--socket", str(daemon)).returncode == 3


def test_flags_before_paths_and_small_courtesies(demo: Path, tmp_path: Path) -> None:
    done = lean_batchd("check", "--simulate", str(demo / "DemoTest"), "--no-daemon", "--sim-import-seconds", "0.05")
    assert done.returncode == 0 and "3 files in" in done.stdout, done.stderr
    bench = lean_batchd("bench", "--simulate", str(demo / "DemoTest/Order.lean"), "--sim-import-seconds", "0.05")
    rows = [line for line in bench.stdout.splitlines() if line.endswith((" s", "x"))]
    assert len(rows) == 3 and len({row.rindex(".") for row in rows}) == 1, bench.stdout  # figures aligned
    assert "1 file, jobs" in bench.stdout and "(1 warm session)" in bench.stdout
    missing = lean_batchd("discover", str(demo / "nope"))
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    top = lean_batchd("--help").stdout
    assert "Keep Lean 4 imports warm" in top and "lean-batchd check PATH" in top
    assert "header: a session imports" in lean_batchd("plan", "--help").stdout
    assert "warm workers at once" in lean_batchd("serve", "--help").stdout


def test_build_first_ends_with_one_hint(demo: Path) -> None:
    done = lean_batchd("check", str(demo / "DemoTest"), *SIM, "--no-daemon", "--build-check")
    assert done.returncode == 1
    assert done.stdout.count(": build-first: ") == 3 and done.stdout.count("`lake build`") == 1
    assert "3 files not checked: their imports need building first" in done.stdout


def test_serve_in_a_terminal_says_what_it_is() -> None:
    term = Terminal(["serve", "--simulate"])
    term.read_until("speaking LSP")
    term.interrupt()
    term.wait(timeout=15)
    assert "speaking LSP on stdin/stdout" in term.screen()


def test_sizes_on_disk_keep_their_scale() -> None:
    from lean_batchd.terminal import file_size

    assert [file_size(n) for n in (0, 900, 48 * 1024, 2**20 - 1, 3 * 2**20 + 2**19, 200 * 2**20, 3 * 2**30)] == [
        "0 bytes", "900 bytes", "48 KB", "1.0 MB", "3.5 MB", "200 MB", "3.0 GB",
    ]  # fmt: skip
