"""`lean-batchd check` and `bench` as users run them: outputs, exit codes, progress, the shared daemon."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lean_batchd.testing.workload import generate_workload
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

SIM = ["--simulate", "--sim-import-seconds", "0.05"]


def lean_batchd(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lean_batchd", *args],
        capture_output=True, text=True, timeout=180, check=False, env=env, cwd=cwd,
    )  # fmt: skip


def test_check_json_reports_every_module_and_says_simulated(demo: Path) -> None:
    done = lean_batchd("check", str(demo), *SIM, "--no-daemon", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["summary"]["files"] == 10 and doc["summary"]["statuses"]["ok"] == 10 and doc["summary"]["simulated"]
    assert {f["module"] for f in doc["files"]} >= {"Demo.Basic", "DemoTest.Order", "Main"}
    assert all(f["simulated"] for f in doc["files"])
    assert "SIMULATED" in done.stderr and "10 files in 9 sessions" in done.stderr


def test_errors_give_compiler_style_lines_and_exit_1(demo: Path) -> None:
    tests, module = demo / "DemoTest/Order.lean", demo / "src/Demo/Order.lean"
    for path in (tests, module):
        path.write_text(path.read_text() + "\n-- sim:error\n")
    files = (str(tests), str(module), str(demo / "src/Demo/Basic.lean"))
    done = lean_batchd("check", *files, *SIM, "--no-daemon", cwd=demo)
    assert done.returncode == 1, done.stderr
    # the REPL stand-in reports at the body's first position, which maps to the header's end
    assert "DemoTest/Order.lean:1:17: error: simulated error (sim:error)" in done.stdout
    # a `module` file runs whole in `lean --json`, whose positions are the file's own
    marker = module.read_text().split("\n").index("-- sim:error") + 1
    assert f"src/Demo/Order.lean:{marker}:0: error: simulated error (sim:error)" in done.stdout
    assert (
        "3 files in" in done.stdout and "1 ok, 2 errors" in done.stdout and "[SIMULATED REPL: not Lean]" in done.stdout
    )


def test_jsonl_streams_a_line_per_file_then_a_summary(demo: Path) -> None:
    done = lean_batchd("check", str(demo / "src"), *SIM, "--no-daemon", "--jsonl", "-q")
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert [set(x) == {"summary"} for x in lines] == [False] * 6 + [True]
    assert done.stderr == ""


def test_without_lean_check_fails_fast_and_says_what_to_install(demo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LEAN_BATCHD_REPL"} | {"PATH": "/nonexistent"}
    done = lean_batchd("check", str(demo), "--no-daemon", env=env)
    assert done.returncode == 3
    assert "no Lean REPL found" in done.stderr and "elan" in done.stderr and "--simulate" in done.stderr
    auto = lean_batchd("check", str(demo / "Main.lean"), "--simulate=auto", "--no-daemon", env=env)
    assert auto.returncode == 0 and "--simulate=auto runs the SIMULATED REPL" in auto.stderr


def test_bad_paths_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert lean_batchd("check", str(tmp_path / "notes.txt"), *SIM).returncode == 2
    done = lean_batchd("check", str(tmp_path), *SIM)
    assert done.returncode == 2 and "missing-lake-root" in done.stderr


def test_plain_progress_lines_when_not_a_terminal_and_a_bar_on_one(demo: Path) -> None:
    done = lean_batchd("check", str(demo / "DemoTest"), *SIM, "--no-daemon")
    assert "[1/3] ok" in done.stderr and "\x1b" not in done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "check", str(demo / "DemoTest"), *SIM, "--no-daemon"],
        stdout=subprocess.PIPE, stderr=follower, text=True,
    )  # fmt: skip
    os.close(follower)
    out, _ = proc.communicate(timeout=120)
    chunks = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks += data
    os.close(leader)
    shown = chunks.decode(errors="replace")
    assert proc.returncode == 0 and "3 files in" in out
    assert "\r\x1b[2K" in shown and "/3 files" in shown and "warm" in shown and "[1/3]" not in shown


def test_check_uses_a_running_daemon_and_its_workers(demo: Path, tmp_path: Path) -> None:
    socket = tmp_path / "d.sock"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{socket}", *SIM],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        first = lean_batchd("check", str(demo / "DemoTest"), *SIM, "--socket", str(socket))
        assert first.returncode == 0 and f"on the shared daemon at {socket}" in first.stderr, first.stderr
        status = json.loads(lean_batchd("status", "--socket", str(socket), "--json").stdout)
        warm = {w["sessionKey"] for w in status["pool"]["workers"] if w["state"] == "warm"}
        assert len(warm) == 3  # the files' sessions stay warm in the daemon for the next run
        again = lean_batchd("check", str(demo / "DemoTest"), *SIM, "--socket", str(socket), "--json")
        assert json.loads(again.stdout)["summary"]["statuses"]["ok"] == 3
        after = json.loads(lean_batchd("status", "--socket", str(socket), "--json").stdout)
        assert after["pool"]["counters"]["spawns"] == status["pool"]["counters"]["spawns"]  # nothing imported again
        private = lean_batchd("check", str(demo / "DemoTest"), *SIM, "--socket", str(socket), "--no-daemon")
        assert "on workers of this process" in private.stderr
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_bench_compares_naive_and_planned(tmp_path: Path) -> None:
    work = generate_workload(tmp_path / "work", files=12, headers=2)
    done = lean_batchd("bench", str(work.files), *SIM)
    assert done.returncode == 0, done.stderr
    assert "12 files, jobs 2 [SIMULATED REPL: not Lean]" in done.stdout
    assert "planned (2 warm sessions)" in done.stdout and "speed-up:" in done.stdout
    assert "outcomes: identical, file by file" in done.stdout


def test_without_a_path_check_takes_the_lake_project_it_runs_in(demo: Path, tmp_path: Path) -> None:
    inside = lean_batchd("check", *SIM, "--no-daemon", "--json", cwd=demo / "src")
    assert inside.returncode == 0, inside.stderr
    checked = {Path(f["path"]).resolve() for f in json.loads(inside.stdout)["files"]}
    assert checked and all(p.is_relative_to((demo / "src").resolve()) for p in checked)
    outside = lean_batchd("check", *SIM, "--no-daemon", cwd=tmp_path)
    assert outside.returncode == 2 and "give Lean files or folders" in outside.stderr


def test_check_says_what_the_configuration_says(demo: Path, tmp_path: Path) -> None:
    """Found by a new-user tryout: with a lakefile that does not parse, `check` said only that no
    modules were there; on Mathlib it never said that `leanOptions` would not be applied."""
    lakefile = demo / "lakefile.toml"
    good = lakefile.read_text()
    lakefile.write_text(good.replace('srcDir = "src"', 'srcDir = "src'))
    broken = lean_batchd("check", ".", *SIM, "--no-daemon", cwd=demo)
    assert broken.returncode == 2, broken.stderr
    lines = broken.stderr.splitlines()
    assert lines[0].startswith("lean-batchd: lakefile.toml:13:13: error: [lakefile-parse-error]"), lines[0]
    assert "no modules of project" in lines[-1]
    lakefile.write_text(good)
    assert lean_batchd("check", ".", *SIM, "--no-daemon", cwd=demo).returncode == 0  # the store keeps this model
    time.sleep(1.1)
    lakefile.write_text(good.replace('srcDir = "src"', 'srcDir = "src'))
    kept = lean_batchd("check", ".", *SIM, "--no-daemon", "--json", cwd=demo)
    assert json.loads(kept.stdout)["summary"]["statuses"]["ok"] == 10  # the last readable configuration, as said
    assert kept.returncode == 1 and "[lakefile-parse-error]" in kept.stderr  # but a broken lakefile fails the run
    project = tmp_path / "dyn"
    (project / "Dyn").mkdir(parents=True)
    (project / "lakefile.lean").write_text(
        "import Lake\nopen Lake DSL\ndef opts : Array LeanOption := #[]\n"
        "package dyn\n@[default_target] lean_lib Dyn where\n  leanOptions := opts\n  globs := #[.submodules `Dyn]\n"
    )
    (project / "Dyn/A.lean").write_text("def a : Nat := 1\n")
    told = lean_batchd("check", str(project), *SIM, "--no-daemon", "--json")
    assert (
        told.returncode == 0 and "[dynamic-config]" in told.stderr and json.loads(told.stdout)["summary"]["files"] == 1
    )
    quiet = lean_batchd("check", str(project), *SIM, "--no-daemon", "-q")
    assert quiet.returncode == 0 and "dynamic-config" not in quiet.stderr


def test_check_of_a_folder_opens_its_model_once(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing the folder's modules opens the model the engine then takes over, whether
    `--simulate` is given or `--simulate=auto` decides it (found by a review: auto opened twice)."""
    from lean_batchd import check_command
    from lean_batchd.cli import main
    from lean_batchd.engine import projects

    opens: list[object] = []
    for module in (check_command, projects):
        real = module.open_project
        monkeypatch.setattr(module, "open_project", lambda *a, _real=real, **k: opens.append(a) or _real(*a, **k))
    for simulate in ("--simulate", "--simulate=auto"):
        opens.clear()
        assert main(["check", str(demo / "src"), simulate, "--sim-import-seconds", "0.05", "--no-daemon", "-q"]) == 0
        assert len(opens) == 1, (simulate, opens)
