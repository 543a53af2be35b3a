"""Opt-in: `lean-batchd check` agrees with `lake build` on real Lean (issue 11, each item).

Runs only where elan's `lake` is on PATH; the first run fetches and builds the REPL the
project requires (network), then builds the project:

    .venv/bin/python -m pytest -q tests/real_lean

Elsewhere every test skips, saying what is missing. The project (`project/`) has a file that
fails only under the lakefile's `autoImplicit = false`, a `module` file, two files with the
same imports in another order, and the REPL at the project's Lean version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lean_batchd.workers.locate import ReplFound, ReplMismatch, find_repl

PROJECT = Path(__file__).with_name("project")
LAKE = shutil.which("lake")
pytestmark = pytest.mark.skipif(
    LAKE is None,
    reason="needs Lean: elan's `lake` on PATH (https://github.com/leanprover/elan), and network once to fetch the "
    "REPL the test project requires",
)


def lake(root: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    assert LAKE is not None
    return subprocess.run([LAKE, *args], cwd=root, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project, its REPL fetched and built, then `lake build`."""
    root = tmp_path_factory.mktemp("real") / "project"
    shutil.copytree(PROJECT, root)
    for step in (("update", "REPL"), ("build", "repl"), ("build",)):
        done = lake(root, *step)
        assert done.returncode == 0, f"lake {' '.join(step)}: {done.stdout}{done.stderr}"
    return root


def check(*paths: Path) -> tuple[int, dict[str, Any]]:
    """`lean-batchd check --json` in a process of its own, with the project's own REPL."""
    argv = [sys.executable, "-m", "lean_batchd", "check", *map(str, paths), "--json", "--no-daemon"]
    env = {k: v for k, v in os.environ.items() if k != "LEAN_BATCHD_REPL"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False, env=env)
    assert done.stdout.strip(), done.stderr
    doc = json.loads(done.stdout)
    return done.returncode, {Path(f["path"]).name: f for f in doc["files"]}


def lean_messages(root: Path, path: Path) -> list[tuple[str, int, str]]:
    """What `lake env lean --json` says about the file itself (line, severity, text)."""
    done = lake(root, "env", "lean", "--json", "-R", str(root), str(path))
    out = []
    for line in done.stdout.splitlines():
        msg = json.loads(line)
        severity = {"information": "info"}.get(msg["severity"], msg["severity"])
        out.append((severity, msg["pos"]["line"], msg["data"].strip()))
    return out


def test_the_repl_found_is_the_projects_and_its_version_is_read_from_its_build_tree(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEAN_BATCHD_REPL", raising=False)
    found = find_repl(built)
    assert isinstance(found, ReplFound) and found.source == "the project's REPL package"
    assert found.lean_version == "4.33.0-rc2" and "build tree" in found.version_from
    other = built.parent / "other-toolchain"
    shutil.copytree(built, other, symlinks=True)
    (other / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    mismatch = find_repl(other)
    assert isinstance(mismatch, ReplMismatch) and "tag v4.32.0" in mismatch.message()


def test_a_file_failing_only_under_the_lakefiles_options_fails(built: Path) -> None:
    code, files = check(built / "Fidelity/AutoImplicit.lean")
    outcome = files["AutoImplicit.lean"]
    assert code == 1 and outcome["status"] == "errors", outcome
    assert outcome["options"]["applied"] == ["autoImplicit", "relaxedAutoImplicit"]
    assert [m["severity"] for m in outcome["messages"]] == ["error"]
    assert "n" in outcome["messages"][0]["message"]


def test_a_module_file_is_elaborated_by_lean_as_lake_builds_it(built: Path) -> None:
    code, files = check(built / "Fidelity/Module.lean")
    outcome = files["Module.lean"]
    assert code == 0 and outcome["status"] == "ok", outcome
    assert outcome["elaboration"]["path"] == "lean"


def test_order_sensitive_headers_get_their_own_sessions_and_lean_s_answers(built: Path) -> None:
    code, files = check(built / "Fidelity/OrderAB.lean", built / "Fidelity/OrderBA.lean")
    assert code == 0
    ab, ba = files["OrderAB.lean"], files["OrderBA.lean"]
    assert ab["sessionKey"] != ba["sessionKey"]
    for name, outcome in (("OrderAB.lean", ab), ("OrderBA.lean", ba)):
        ours = [(m["severity"], m["range"]["start"]["line"] + 1, m["message"]) for m in outcome["messages"]]
        assert ours == lean_messages(built, built / "Fidelity" / name)


def test_touch_then_check_checks_and_an_edit_asks_for_a_build(built: Path) -> None:
    basic = built / "Fidelity/Basic.lean"
    os.utime(basic)
    code, files = check(built / "Fidelity/OrderAB.lean", built / "Fidelity/Module.lean")
    assert code == 0 and all(f["buildCheck"] == "lake" for f in files.values()), files
    original = basic.read_text()
    try:
        basic.write_text(original + "\ntheorem edited : True := trivial\n")
        code, files = check(built / "Fidelity/Module.lean")
        assert code == 1 and files["Module.lean"]["status"] == "build-first"
        assert "lake build Fidelity.Basic" in files["Module.lean"]["detail"]
    finally:
        basic.write_text(original)
        assert lake(built, "build").returncode == 0


def test_snippets_run_in_the_projects_sessions_with_its_options(built: Path) -> None:
    """`check --snippets` on real Lean: the package's `autoImplicit = false` holds for snippets too,
    positions are the snippet's own, and equal headers share one session."""
    implicit = (built / "Fidelity/AutoImplicit.lean").read_text()
    lines = [
        {"id": "implicit", "code": implicit},
        {"id": "fine", "code": "import Fidelity.Basic\ntheorem two : double 1 = 2 := rfl"},
        {"id": "sorry", "code": "import Fidelity.Basic\ntheorem s : True := sorry"},
    ]
    argv = [sys.executable, "-m", "lean_batchd", "check", "--snippets", "-", "--json", "--no-daemon"]
    env = {k: v for k, v in os.environ.items() if k != "LEAN_BATCHD_REPL"}
    stdin = "".join(json.dumps(x) + "\n" for x in lines)
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=3600, check=False, env=env, cwd=built
    )
    assert done.returncode == 1, done.stderr
    got = {s["id"]: s for s in json.loads(done.stdout)["snippets"]}
    assert got["implicit"]["status"] == "errors" and got["fine"]["status"] == "ok", got
    assert got["sorry"]["sorries"] == 1 and got["sorry"]["messages"][0]["range"]["start"]["line"] == 1
    assert got["implicit"]["sessionKey"] == got["fine"]["sessionKey"] == got["sorry"]["sessionKey"]
