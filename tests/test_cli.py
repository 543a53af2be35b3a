"""The command line contract: `discover` output, exit codes, `python -m lean_batchd`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lean_batchd.doctor import smoke_test
from lean_batchd.lake import LakeProject, discover
from lean_batchd.testing import simulated_repl_command
from tests.conftest import DEMO


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lean_batchd", *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def test_discover_json_contract() -> None:
    done = run("discover", str(DEMO), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["project_root"] == str(DEMO.resolve()) and doc["lakefile"] == "lakefile.toml"
    assert doc["toolchain"]["kind"] == "release" and doc["toolchain"]["version"] == "4.24.0"
    libs = {lib["name"]: lib for lib in doc["libraries"]}
    assert set(libs) == {"Demo", "DemoTest"}
    assert libs["Demo"]["src_dir"] == "src" and libs["Demo"]["orphans"] == ["Demo.Scratch"]
    assert libs["DemoTest"]["globs"] == ["DemoTest.+"] and libs["DemoTest"]["roots"] == ["DemoTest"]
    for key in ("name", "src_dir", "roots", "globs", "modules", "orphans"):
        assert key in libs["Demo"]
    modules = {m["name"]: m for m in doc["modules"]}
    algebra = modules["Demo.Algebra"]
    assert algebra["path"] == "src/Demo/Algebra.lean" and algebra["library"] == "Demo"
    assert algebra["imports"][0] == {
        "module": "Demo.Basic", "public": True, "meta": False, "all": False, "line": 3, "column": 14,
        "resolution": {"kind": "local", "package": "demo", "library": "Demo", "path": "src/Demo/Basic.lean"},
    }  # fmt: skip
    assert algebra["imports"][1]["resolution"] == {"kind": "core", "package": "lean4"}
    assert algebra["header_end"] == {"line": 4, "column": 23, "offset": 56}
    assert len(algebra["digest"]) == 64 and len(algebra["closure_digest"]) == 64
    fingerprint = doc["fingerprint"]
    for key in (
        "toolchain",
        "lakefile_digest",
        "manifest_digest",
        "source_count",
        "source_max_mtime_ns",
        "source_digest",
    ):
        assert key in fingerprint
    assert fingerprint["source_count"] == 10
    assert doc["diagnostics"] == []


def test_discover_summary_and_module_entry() -> None:
    done = run("discover", str(DEMO / "src" / "Demo" / "Order.lean"))
    assert done.returncode == 0
    assert "Lake project demo" in done.stdout and "Demo.Scratch" not in done.stdout
    assert "1 orphans" in done.stdout and "diagnostics: none" in done.stdout


def test_discover_roots() -> None:
    doc = json.loads(run("discover", str(DEMO), "--roots", "DemoTest", "--json").stdout)
    assert [m["name"] for m in doc["modules"]] == ["DemoTest.Algebra", "DemoTest.Lemmas", "DemoTest.Order"]
    doc = json.loads(run("discover", str(DEMO), "--roots", "Nope", "--json").stdout)
    assert [d["code"] for d in doc["diagnostics"]] == ["missing-module-root"]


def test_no_project_exits_2_and_says_where_it_looked(tmp_path: Path) -> None:
    done = run("discover", str(tmp_path))
    assert done.returncode == 2
    assert "missing-lake-root" in done.stderr and str(tmp_path) in done.stderr


def test_console_script_matches_module() -> None:
    script = Path(sys.executable).with_name("lean-batchd")
    done = subprocess.run([str(script), "discover", str(DEMO), "--json"], capture_output=True, text=True, check=False)
    assert (
        done.returncode == 0
        and json.loads(done.stdout)["modules"] == json.loads(run("discover", str(DEMO), "--json").stdout)["modules"]
    )


def test_doctor_reports_the_project_and_the_missing_repl(tmp_path: Path) -> None:
    done = run("doctor", str(DEMO / "src/Demo/Basic.lean"), "--json")
    doc = json.loads(done.stdout)
    assert doc["project"]["name"] == "demo" and doc["project"]["root"] == str(DEMO.resolve())
    assert doc["project"]["toolchain"]["spec"] == "leanprover/lean4:v4.24.0"
    assert [(d["simulated"], d["running"]) for d in doc["daemons"]] == [(False, False), (True, False)]
    if "missing" in doc["repl"]:
        assert done.returncode == 1 and "LEAN_BATCHD_REPL" in doc["repl"]["missing"]
    else:
        assert doc["repl"]["command"] and done.returncode == (0 if doc["repl"]["smoke"]["ok"] else 1)


def test_doctor_finds_a_given_repl_and_outside_projects_says_so(tmp_path: Path) -> None:
    repl = tmp_path / "repl"
    repl.write_text("#!/bin/sh\n")
    repl.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "doctor", str(DEMO), "--repl", str(repl)],
        capture_output=True, text=True, timeout=120, check=False, env={"PATH": str(tmp_path)},
    )  # fmt: skip
    assert "REPL: missing" in done.stdout and "`lake` is not on PATH" in done.stdout  # found, but no lake
    (tmp_path / "lake").write_text("#!/bin/sh\n")
    (tmp_path / "lake").chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "doctor", str(DEMO), "--repl", str(repl)],
        capture_output=True, text=True, timeout=120, check=False, env={"PATH": str(tmp_path)},
    )  # fmt: skip
    assert f"REPL: {tmp_path / 'lake'} env {repl}" in done.stdout
    # Found is not working: the smoke test runs it as a check would, and this one answers nothing.
    assert done.returncode == 1 and "smoke test: FAILED: the worker" in done.stdout
    outside = run("doctor", str(tmp_path))
    assert outside.returncode == 1 and "project: none:" in outside.stdout and "missing-lake-root" in outside.stdout


def test_doctor_smoke_test_imports_the_smallest_header_and_asks_lean_its_version() -> None:
    done = run("doctor", str(DEMO), "--simulate", "--json")
    smoke = json.loads(done.stdout)["repl"]["smoke"]
    assert smoke["ok"] and smoke["simulated"] and smoke["leanVersion"] == "4.24.0"
    assert smoke["header"] == "import Helper.Core"  # the project's smallest REPL session
    text = run("doctor", str(DEMO), "--simulate").stdout
    assert "smoke test [SIMULATED REPL: not Lean]: ok: imported and elaborated with Lean 4.24.0" in text


def test_doctor_explains_oleans_another_lean_wrote() -> None:
    project = discover(DEMO)
    assert isinstance(project, LakeProject)
    stale = asyncio.run(smoke_test(project, (*simulated_repl_command(), "--oleans-from", "4.22.0")))
    assert not stale.ok and "was written by another Lean version, not by the Lean this REPL runs" in stale.message
    assert "`lake build`" in stale.message and "tag v4.24.0" in stale.message
    other = asyncio.run(smoke_test(project, (*simulated_repl_command(), "--lean-version", "4.23.0")))
    assert not other.ok and other.message == "the REPL runs Lean 4.23.0, the project pins leanprover/lean4:v4.24.0"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--jobs", "0"], "--jobs: expected 1 or more, not 0"),
        (["--memory-budget", "lots"], "--memory-budget: expected a number of MB, not 'lots'"),
        (["--worker-max-mb", "-5"], "--worker-max-mb: expected more than 0 MB, not -5"),
    ],
)
def test_impossible_numbers_are_refused_with_the_flags_name(flags: list[str], says: str) -> None:
    done = run("check", "--simulate", *flags, str(DEMO))
    assert done.returncode == 2 and says in done.stderr, done.stderr


def test_serve_on_stdio_that_is_a_file_says_how_to_start_the_daemon(tmp_path: Path) -> None:
    """Found by a new-user tryout: `serve > log &` died on a traceback from asyncio."""
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "lean_batchd", "serve", "--simulate"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert "stdout is a file" in done.stderr and "lean-batchd start" in done.stderr
    assert "Traceback" not in done.stderr


def test_start_runs_the_shared_daemon_from_the_installed_package(tmp_path: Path) -> None:
    """`start` is idempotent; the daemon it starts imports lean-batchd as installed, never a
    `lean_batchd` folder where the command was typed (`python -P`: a clone's working folder
    gave the daemon other module paths than the command line, so they shared no stored outcome)."""
    decoy = tmp_path / "lean_batchd"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy package was imported')\n")
    (decoy / "__main__.py").write_text("raise SystemExit('the decoy package was run')\n")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    (tmp_path / "run").mkdir()
    lean_batchd = [str(Path(sys.executable).parent / "lean-batchd")]  # as typed: no working folder on sys.path

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*lean_batchd, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    try:
        first, second = call("start", "--simulate"), call("start", "--simulate")
        assert first.returncode == second.returncode == 0, first.stderr + second.stderr
        assert "SIMULATED daemon answers on" in first.stdout and first.stdout == second.stdout
        status = json.loads(call("status", "--json").stdout)
        assert status["simulated"] is True and status["daemon"]["pid"] > 0
    finally:
        call("stop")


def test_plan_of_a_folder_plans_what_check_of_it_runs() -> None:
    """Found by a new-user tryout: `plan SUBFOLDER` planned the whole project."""
    whole = json.loads(run("plan", str(DEMO), "--json").stdout)
    sub = json.loads(run("plan", str(DEMO / "src/Demo"), "--json").stdout)
    names = lambda p: sorted(m["module"] for b in p["batches"] for m in b["modules"])  # noqa: E731
    assert whole["scope"] is None and "Demo.Basic" in names(whole) and "DemoTest.Order" in names(whole)
    assert sub["scope"] == "src/Demo" and names(sub) == sorted(n for n in names(whole) if n.startswith("Demo."))
    ids = {b["id"]: b for b in whole["batches"]}
    assert all(ids[b["id"]]["session_key"] == b["session_key"] for b in sub["batches"])  # the same sessions
    one = run("plan", str(DEMO / "DemoTest/Order.lean"))
    assert one.returncode == 0 and "Plan for demo, DemoTest/Order.lean" in one.stdout and "DemoTest.Order" in one.stdout
    assert "Demo.Basic" not in one.stdout.split("→", 1)[-1]
    assert json.loads(run("plan", str(DEMO / "lakefile.toml"), "--json").stdout)["scope"] is None
    nothing = run("plan", str(DEMO / "vendor"))
    assert nothing.returncode == 2 and "no modules of project demo there" in nothing.stderr, nothing.stderr


def test_plan_of_a_file_that_is_no_module(tmp_path: Path) -> None:
    """The lakefile (even `lakefile.lean`) plans the whole project; a Lean file no library builds
    is said to be one (found by an independent review: `plan lakefile.lean` exited 2)."""
    (tmp_path / "LP").mkdir()
    (tmp_path / "lakefile.lean").write_text("import Lake\nopen Lake DSL\npackage lp\n@[default_target] lean_lib LP\n")
    (tmp_path / "LP.lean").write_text("import LP.A\n")
    (tmp_path / "LP/A.lean").write_text("def a : Nat := 1\n")
    (tmp_path / "Scratch.lean").write_text("import LP.A\n")
    whole = json.loads(run("plan", str(tmp_path / "lakefile.lean"), "--json").stdout)
    assert whole["scope"] is None and sorted(m["module"] for b in whole["batches"] for m in b["modules"]) == [
        "LP",
        "LP.A",
    ]
    loose = run("plan", str(tmp_path / "Scratch.lean"))
    assert loose.returncode == 2 and "Scratch.lean: no library of project lp builds it" in loose.stderr, loose.stderr


def test_plan_of_a_broken_project_says_so_as_discover_does(tmp_path: Path) -> None:
    """Found by a new-user tryout: with a module renamed away from its importers, `discover`
    exited 1 listing the unresolved imports while `plan` printed a sound-looking plan, exit 0."""
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo, ignore=shutil.ignore_patterns(".lake"))
    (demo / "src/Demo/Order.lean").rename(demo / "src/Demo/Ordering.lean")
    assert run("discover", str(demo)).returncode == 1
    planned = run("plan", str(demo), "--json")
    found = json.loads(planned.stdout)["diagnostics"]
    assert planned.returncode == 1 and {d["path"] for d in found if d["code"] == "unresolved-import"} == {
        "DemoTest/Order.lean", "src/Demo.lean", "src/Demo/Lemmas.lean",
    }  # fmt: skip
    scoped = run("plan", str(demo / "src/Demo/Lemmas.lean"), "--json")
    assert scoped.returncode == 1 and [d["path"] for d in json.loads(scoped.stdout)["diagnostics"]] == [
        "src/Demo/Lemmas.lean"
    ]
    clean = run("plan", str(demo / "DemoTest/Algebra.lean"), "--json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["diagnostics"] == []
    (demo / "src/Demo/Ordering.lean").rename(demo / "src/Demo/Order.lean")
    order = demo / "src/Demo/Order.lean"
    order.write_text("import Demo.Missing\n" + order.read_text())  # an error in what Lemmas imports
    below = run("plan", str(demo / "src/Demo/Lemmas.lean"), "--json")
    assert below.returncode == 1 and [d["path"] for d in json.loads(below.stdout)["diagnostics"]] == [
        "src/Demo/Order.lean"
    ]


def test_a_path_that_is_not_there_is_an_error_in_every_command(tmp_path: Path) -> None:
    """Found by a new-user tryout: `cache info`, `cache clear` and `doctor` quietly used the folder
    above a missing path, and `check` called it "not a Lean file"."""
    gone = str(DEMO / "nope")
    for argv in (["cache", "info", gone], ["cache", "clear", gone], ["doctor", gone], ["check", gone, "--simulate"],
                 ["discover", gone], ["plan", gone]):  # fmt: skip
        done = run(*argv)
        assert done.returncode == 2 and f"{gone}: no such file or folder" in done.stderr, (argv, done.stderr)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    for argv in (["plan", str(link)], ["check", str(link), "--simulate"], ["cache", "info", str(link)]):
        done = run(*argv)
        assert done.returncode == 2 and "no such file or folder (a symbolic link to nothing)" in done.stderr, (
            done.stderr
        )


def test_discover_and_plan_exit_1_on_an_unreadable_lakefile(tmp_path: Path) -> None:
    """As a linter does (found by a new-user tryout: an unreadable lakefile exited 0)."""
    (tmp_path / "lakefile.toml").write_text('name = "p"\n[[lean_lib]\n')
    for extra in ([], ["--json"]):
        done = run("discover", str(tmp_path), *extra)
        assert done.returncode == 1 and "lakefile-parse-error" in done.stdout, done.stdout
    assert run("discover", str(DEMO)).returncode == 0
    planned = run("plan", str(tmp_path), "--json")  # an empty plan of an unreadable lakefile said so
    assert planned.returncode == 1
    assert [d["code"] for d in json.loads(planned.stdout)["diagnostics"]] == ["lakefile-parse-error"]
