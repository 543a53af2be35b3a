"""A file checked the way `lake build` would elaborate it: Lake's options in its session, `module`
files in `lean --json` with their main module, the build judged by Lake, header order kept.
On the SIMULATED REPL, `lean` and `lake` (`lean_batchd.testing`), which echo what they were given."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from lean_batchd.check_command import message_lines
from lean_batchd.engine import Engine, EngineConfig, ModuleInfo
from lean_batchd.engine.outcome import FileOutcome, FileStatus
from lean_batchd.plan.elaboration import ElaborationPath
from lean_batchd.testing import simulated_lake_command, simulated_lean_command, simulated_repl_command
from lean_batchd.workers.pool import PoolConfig
from tests.conftest import DEMO
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

T = TypeVar("T")


def config(**overrides: Any) -> EngineConfig:
    base = EngineConfig(
        worker_command=simulated_repl_command(import_seconds=0.05),
        lean_command=simulated_lean_command(),
        simulated=True,
        watch=False,
        verify_interval=None,
        pool=PoolConfig(idle_ttl=None),
    )
    return replace(base, **overrides)


def with_engine(body: Callable[[Engine], Awaitable[T]], **overrides: Any) -> T:
    async def main() -> T:
        engine = Engine(config(**overrides))
        try:
            return await body(engine)
        finally:
            await engine.close()

    return asyncio.run(main())


def check(path: Path, build_check: bool = False, **overrides: Any) -> FileOutcome:
    async def body(engine: Engine) -> FileOutcome:
        got = await engine.check(str(path), build_check=build_check)
        assert isinstance(got, FileOutcome), got
        return got

    return with_engine(body, **overrides)


def lean_options(root: Path, table: str) -> None:
    """Give the demo's lakefile a `[leanOptions]` table (the Lake model reads it)."""
    head, _, rest = (DEMO / "lakefile.toml").read_text().partition("[[require]]")
    (root / "lakefile.toml").write_text(f"{head}[leanOptions]\n{table}\n[[require]]{rest}")


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_lakes_options_reach_the_body_and_the_unappliable_are_reported(demo: Path) -> None:
    lemmas = demo / "src/Demo/Lemmas.lean"
    append(lemmas, "\n-- sim:options\n")
    plain = check(lemmas)
    lean_options(demo, "autoImplicit = false\nweak.sim.undeclared.lint = true")
    strict = check(lemmas)
    assert strict.status is FileStatus.OK and strict.session_key != plain.session_key
    assert [m.text for m in strict.messages if m.severity == "info"] == ["options: autoImplicit=false (simulated)"]
    assert strict.options is not None and strict.options.applied == ("autoImplicit",)
    ((name, why),) = strict.options.not_applied
    assert name == "weak.sim.undeclared.lint" and "do not declare it" in why
    doc = strict.to_json()
    assert doc["options"] == {
        "applied": ["autoImplicit"],
        "notApplied": [{"name": "weak.sim.undeclared.lint", "reason": why}],
    }
    assert FileOutcome.from_json(doc).same_result(strict)
    (note,) = [line for line in message_lines(strict) if ": note: " in line]
    assert note.endswith(f"Lemmas.lean: note: Lake's option weak.sim.undeclared.lint is not set: {why}")
    lean_options(demo, "sim.undeclared.strict = true")
    refused = check(lemmas)
    assert refused.status is FileStatus.HEADER_FAILED and refused.detail is not None
    assert "Lean refuses an option Lake passes" in refused.detail


def test_module_files_run_in_lean_with_their_main_module_and_options(demo: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"
    append(algebra, "\ntheorem extra : True := sorry\n-- sim:options\n")
    lean_options(demo, "autoImplicit = false\nweak.linter.x = true")

    async def body(engine: Engine) -> FileOutcome:
        got = await engine.check(str(algebra), build_check=False)
        assert isinstance(got, FileOutcome)
        assert engine.pool.counters["spawns"] == 0 and not engine.pool.workers  # no REPL session for it
        return got

    outcome = with_engine(body)
    assert outcome.status is FileStatus.OK and outcome.elaboration is not None
    assert outcome.elaboration.path is ElaborationPath.LEAN and "main module" in outcome.elaboration.reason
    infos = [m.text for m in outcome.messages if m.severity == "info"]
    assert infos == ["options: autoImplicit=false, linter.x=true; main module: Demo.Algebra (simulated)"]
    (warning,) = [m for m in outcome.messages if m.severity == "warning"]
    lines = algebra.read_text().split("\n")
    line = next(i for i, text in enumerate(lines) if text.startswith("theorem extra"))
    assert (warning.range.start_line, warning.range.start_character) == (line, lines[line].index("extra"))
    assert outcome.sorries == 1
    assert outcome.options is not None and dict(outcome.options.not_applied).keys() == {"weak.linter.x"}


def test_an_unsaved_module_file_is_checked_as_written_in_the_editor(demo: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"

    async def body(engine: Engine) -> FileOutcome:
        await engine.set_buffer(str(algebra), algebra.read_text() + "\n-- sim:options\n", "editor")
        got = await engine.check(str(algebra), build_check=False, owner="editor")
        assert isinstance(got, FileOutcome)
        return got

    outcome = with_engine(body)
    assert [m.text for m in outcome.messages] == ["options: none; main module: Demo.Algebra (simulated)"]


def lake(root: Path, *args: str) -> int:
    return subprocess.run([*simulated_lake_command(), *args], cwd=root, capture_output=True, check=False).returncode


def test_lake_decides_the_build_a_touch_never_leaves_a_file_in_build_first(demo: Path) -> None:
    scratch = demo / "src/Demo/Scratch.lean"  # imports Demo.Basic, which imports Helper.Core
    basic = demo / "src/Demo/Basic.lean"
    with_lake = {"lake_command": simulated_lake_command()}
    assert lake(demo, "build", "+Demo.Basic") == 0
    built = check(scratch, build_check=True, **with_lake)
    assert built.status is FileStatus.OK and built.build_judged_by == "lake"
    later = (demo / ".lake/build/lib/lean/Demo/Basic.olean").stat().st_mtime_ns + 10 * 10**9
    os.utime(basic, ns=(later, later))  # a `touch`, or a checkout: the content is what was built
    assert lake(demo, "build", "--no-build", "+Demo.Basic") == 0  # Lake rebuilds nothing
    touched = check(scratch, build_check=True, **with_lake)
    assert touched.status is FileStatus.OK and touched.build_judged_by == "lake"
    by_mtime = check(scratch, build_check=True)  # what modification times alone would say
    assert by_mtime.status is FileStatus.BUILD_FIRST and by_mtime.build_judged_by == "mtime"
    append(basic, "\ntheorem edited : True := trivial\n")
    edited = check(scratch, build_check=True, **with_lake)
    assert edited.status is FileStatus.BUILD_FIRST
    assert edited.detail == "its imports are not built: lake build Demo.Basic (Lake would rebuild them)"
    assert lake(demo, "build", "+Demo.Basic") == 0
    assert check(scratch, build_check=True, **with_lake).status is FileStatus.OK


def test_lake_sees_an_olean_stale_because_an_import_was_rebuilt(demo: Path) -> None:
    scratch = demo / "src/Demo/Scratch.lean"
    core = demo / "vendor/helper/Helper/Core.lean"
    with_lake = {"lake_command": simulated_lake_command()}
    assert lake(demo, "build", "+Demo.Basic") == 0
    append(core, "\ntheorem more : True := trivial\n")
    assert lake(demo, "build", "+Helper.Core") == 0  # rebuilt alone: Demo.Basic's own files are untouched
    stale = check(scratch, build_check=True, **with_lake)
    assert stale.status is FileStatus.BUILD_FIRST and stale.detail is not None
    assert stale.detail.startswith("its imports are not built: lake build Demo.Basic ")


def test_reordering_a_header_moves_the_file_to_another_session(demo: Path) -> None:
    """Lean imports in header order, so an edit that only swaps two imports changes the session
    (the Lake model's header digest ignores order; the session key does not)."""
    lemmas = demo / "src/Demo/Lemmas.lean"

    async def body(engine: Engine) -> None:
        before = await engine.module_info(str(lemmas))
        assert isinstance(before, ModuleInfo) and before.imports == ("import Demo.Algebra", "import Demo.Order")
        lemmas.write_text(
            lemmas.read_text().replace(
                "import Demo.Algebra\nimport Demo.Order", "import Demo.Order\nimport Demo.Algebra"
            )
        )
        await engine.apply_paths(str(lemmas), [str(lemmas)])
        after = await engine.module_info(str(lemmas))
        assert isinstance(after, ModuleInfo) and after.imports == ("import Demo.Order", "import Demo.Algebra")
        assert after.session_key != before.session_key and after.batch_id == after.session_key

    with_engine(body, watch=True)


def test_a_repl_of_another_lean_stops_the_check_naming_both_versions(demo: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lake").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "lake").chmod(0o755)
    repl_root = demo / ".lake/packages/REPL"
    olean = repl_root / ".lake/build/lib/lean/REPL/Main.olean"
    olean.parent.mkdir(parents=True)
    olean.write_bytes(b"olean" + bytes([2, 0]) + b"4.22.0".ljust(33, b"\0") + b"0" * 40 + bytes(8))
    binary = repl_root / ".lake/build/bin/repl"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    manifest = json.loads((demo / "lake-manifest.json").read_text())
    manifest["packages"].append({"type": "git", "name": "REPL", "url": "https://github.com/leanprover-community/repl"})
    (demo / "lake-manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "check", str(demo / "src/Demo/Basic.lean"), "--no-daemon"],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "runs Lean 4.22.0" in done.stderr and "pins leanprover/lean4:v4.24.0" in done.stderr
    assert "build the REPL at tag v4.24.0" in done.stderr
