"""Checking files in their planned sessions, on the SIMULATED REPL: statuses, the build check,
and the planned path agreeing with the naive one while importing each header once."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from lean_batchd.check_command import CheckOptions, pool_for
from lean_batchd.engine import Engine, EngineConfig, EngineError
from lean_batchd.engine.checking import CheckReport, EngineTarget, check_sessions, plan_sessions
from lean_batchd.engine.outcome import FileOutcome, FileStatus
from lean_batchd.engine.values import ErrorKind
from lean_batchd.testing import simulated_lean_command, simulated_repl_command
from lean_batchd.testing.workload import generate_workload
from lean_batchd.workers.pool import PoolConfig
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def simulated(**pool: object) -> EngineConfig:
    return EngineConfig(
        worker_command=simulated_repl_command(import_seconds=0.05),
        lean_command=simulated_lean_command(),
        simulated=True,
        watch=False,
        verify_interval=None,
        pool=PoolConfig(idle_ttl=None, **pool),  # type: ignore[arg-type]
    )


def check(config: EngineConfig, path: Path, **kw: object) -> FileOutcome | EngineError:
    async def main() -> FileOutcome | EngineError:
        engine = Engine(config)
        try:
            return await engine.check(str(path), **kw)  # type: ignore[arg-type]
        finally:
            await engine.close()

    return asyncio.run(main())


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_statuses_messages_and_positions(demo: Path) -> None:
    scratch, order = demo / "src/Demo/Scratch.lean", demo / "src/Demo/Order.lean"
    append(scratch, "\ntheorem t : True := sorry\n")
    append(order, "\n-- sim:error\n")
    ok = check(simulated(), scratch, build_check=False)
    assert isinstance(ok, FileOutcome) and ok.status is FileStatus.OK and ok.simulated
    assert (ok.sorries, ok.count("warning"), ok.module) == (1, 1, "Demo.Scratch")
    lines = scratch.read_text().split("\n")
    (warning,) = [msg for msg in ok.messages if msg.severity == "warning"]
    assert "sorry" in lines[warning.range.start_line]  # mapped back to the file, not the body
    bad = check(simulated(), order, build_check=False)
    assert isinstance(bad, FileOutcome) and bad.status is FileStatus.ERRORS and bad.count("error") == 1
    assert bad.to_json()["errors"] == 1 and FileOutcome.from_json(bad.to_json()).same_result(bad)


def test_an_import_no_package_provides_fails_the_header_as_lean_would(demo: Path) -> None:
    bad = demo / "src/Demo/Bad.lean"
    bad.write_text("import Demo.Basic\nimport Nope.Missing\n\ntheorem t : True := trivial\n")
    got = check(simulated(), bad, build_check=False)
    assert isinstance(got, FileOutcome) and got.status is FileStatus.HEADER_FAILED
    (message,) = got.messages
    assert message.severity == "error" and "Nope.Missing" in message.text
    assert (message.range.start_line, message.range.start_character) == (1, 7)  # at the import's name
    shutil.rmtree(demo / "vendor/helper")  # a dependency not on disk: `lake update` may bring it
    basic = check(simulated(), demo / "src/Demo/Basic.lean", build_check=False)  # imports Helper.Core
    assert isinstance(basic, FileOutcome) and basic.status is FileStatus.OK


def test_crash_and_timeout_are_outcomes(demo: Path) -> None:
    scratch = demo / "src/Demo/Scratch.lean"
    append(scratch, "\n-- sim:crash\n")
    crashed = check(simulated(), scratch, build_check=False)
    assert isinstance(crashed, FileOutcome) and crashed.status is FileStatus.CRASHED and crashed.detail
    scratch.write_text(scratch.read_text().replace("sim:crash", "sim:hang"))
    hung = check(simulated(), scratch, build_check=False, timeout=1.0)
    assert isinstance(hung, FileOutcome) and hung.status is FileStatus.TIMEOUT


def build(root: Path, module: str, *later_than: Path) -> Path:
    """An `.olean` written after `later_than` (its source, and the `.olean` files of its imports:
    Lake builds imports first)."""
    olean = root / ".lake/build/lib/lean" / (module.replace(".", "/") + ".olean")
    olean.parent.mkdir(parents=True, exist_ok=True)
    olean.write_bytes(b"")
    stamp = max(p.stat().st_mtime_ns for p in later_than) + 10**9
    os.utime(olean, ns=(stamp, stamp))
    return olean


def test_build_check_refuses_missing_and_stale_oleans(demo: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"  # imports Demo.Basic, which imports Helper.Core
    missing = check(simulated(), algebra)
    assert isinstance(missing, FileOutcome) and missing.status is FileStatus.BUILD_FIRST
    assert missing.detail is not None and "lake build Demo.Basic Helper.Core" in missing.detail
    helper = demo / "vendor/helper"
    core = build(helper, "Helper.Core", helper / "Helper/Core.lean")
    build(demo, "Demo.Basic", demo / "src/Demo/Basic.lean", core)
    fresh = check(simulated(), algebra)
    assert isinstance(fresh, FileOutcome) and fresh.status is FileStatus.OK
    basic = demo / "src/Demo/Basic.lean"
    append(basic, "\n-- edited after the build\n")
    later = (demo / ".lake/build/lib/lean/Demo/Basic.olean").stat().st_mtime_ns + 5 * 10**9
    os.utime(basic, ns=(later, later))
    stale = check(simulated(), algebra)
    assert isinstance(stale, FileOutcome) and stale.status is FileStatus.BUILD_FIRST
    assert stale.detail == (
        "its imports are not built: lake build Demo.Basic (their .olean files are missing or older than their "
        "sources or imports; judged by modification times: `lake` is not on PATH)"
    )
    assert stale.build_judged_by == "mtime"


def test_without_lake_an_olean_older_than_a_rebuilt_import_is_stale(demo: Path) -> None:
    """Lake rebuilds a module whose import was rebuilt since, though its own files are older:
    modification times must say so too (as Lake's own old mode did)."""
    algebra = demo / "src/Demo/Algebra.lean"
    helper = demo / "vendor/helper"
    core = build(helper, "Helper.Core", helper / "Helper/Core.lean")
    basic = build(demo, "Demo.Basic", demo / "src/Demo/Basic.lean", core)
    fresh = check(simulated(), algebra)
    assert isinstance(fresh, FileOutcome) and fresh.status is FileStatus.OK
    build(helper, "Helper.Core", helper / "Helper/Core.lean", basic)  # rebuilt after Demo.Basic was
    stale = check(simulated(), algebra)
    assert isinstance(stale, FileOutcome) and stale.status is FileStatus.BUILD_FIRST
    assert stale.detail is not None and stale.detail.startswith("its imports are not built: lake build Demo.Basic (")


def test_no_repl_is_reported_before_anything_runs(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAN_BATCHD_REPL", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    config = EngineConfig(watch=False, verify_interval=None)

    async def main() -> tuple[EngineError | None, FileOutcome | EngineError]:
        engine = Engine(config)
        try:
            target = EngineTarget(engine)
            return await target.ready(str(demo)), await engine.check(str(demo / "src/Demo/Basic.lean"))
        finally:
            await engine.close()

    ready, checked = asyncio.run(main())
    assert isinstance(ready, EngineError) and ready.kind is ErrorKind.NO_REPL and "install" in ready.message
    assert isinstance(checked, EngineError) and checked.kind is ErrorKind.NO_REPL


def run_workload(files: list[str], planned: bool) -> tuple[CheckReport, dict[str, float]]:
    options = CheckOptions(jobs=2, planned=planned)
    config = pool_for(simulated(), options)

    async def main() -> tuple[CheckReport, dict[str, float]]:
        engine = Engine(config)
        try:
            target = EngineTarget(engine, build_check=False, cache=False)  # compare elaborations
            sessions = await plan_sessions(target, files, planned)
            assert not isinstance(sessions, EngineError)
            report = await check_sessions(target, sessions, options.jobs, planned)
            assert isinstance(report, CheckReport)
            return report, dict(engine.pool.counters)
        finally:
            await engine.close()

    return asyncio.run(main())


def test_planned_agrees_with_naive_and_imports_each_header_once(tmp_path: Path) -> None:
    work = generate_workload(tmp_path / "work", files=24, headers=3)
    files = sorted(str(p) for p in work.files.glob("*.lean"))
    naive, naive_counters = run_workload(files, planned=False)
    planned, planned_counters = run_workload(files, planned=True)
    assert [o.path for o in naive.outcomes] == [o.path for o in planned.outcomes] == files
    assert all(a.same_result(b) for a, b in zip(naive.outcomes, planned.outcomes, strict=True))
    assert planned.sessions == 3 and not planned.failed
    assert sum(o.sorries for o in planned.outcomes) == len(range(0, 24, 7))
    assert naive_counters["spawns"] == 24
    assert planned_counters["spawns"] == 3


def test_a_header_that_does_not_parse_fails_the_header_as_lean_would(demo: Path) -> None:
    bad = demo / "src/Demo/Bad.lean"
    bad.write_text("import Demo.Basic Demo.\n\ntheorem t : True := trivial\n")
    got = check(simulated(), bad, build_check=False)
    assert isinstance(got, FileOutcome) and got.status is FileStatus.HEADER_FAILED
    assert all(m.severity == "error" and m.range.start_line == 0 for m in got.messages) and got.messages
