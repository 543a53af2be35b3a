"""The documented Python API and the example that uses it, on the SIMULATED REPL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from lean_batchd import api
from tests.conftest import DEMO, REPO
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def test_list_declarations_example_runs_every_module_through_few_sessions() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "examples/list_declarations.py"), str(DEMO), "--simulate"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    head, *rows = done.stdout.splitlines()
    assert head == "demo: 10 modules in 3 sessions [SIMULATED REPL: not Lean]"
    listed = {row.split(":")[0] for row in rows}
    project = api.discover(DEMO)
    assert isinstance(project, api.LakeProject)
    assert listed == {m.name for m in project.local_modules()}


def test_lease_runs_commands_in_the_planned_session() -> None:
    project = api.discover(DEMO)
    assert isinstance(project, api.LakeProject)
    command = api.repl_command(project, simulate=True)
    assert isinstance(command, tuple)
    plan = api.plan_project(project, api.PlanConfig(worker_command=command))

    async def main() -> list[object]:
        async with api.WorkerPool(api.PoolConfig(max_workers=1)) as pool:
            batch = max(plan.batches, key=lambda b: len(b.modules))
            async with pool.lease(batch.key) as session:
                first = await session.run(api.Command("#check Nat"))
                second = await session.run(api.Command("theorem t : True := sorry"))
            return [first, second, pool.counters["spawns"]]

    first, second, spawns = asyncio.run(main())
    assert isinstance(first, api.CommandReply) and isinstance(second, api.CommandReply)
    assert first.env != second.env and len(second.sorries) == 1 and spawns == 1


def test_check_function_reports_outcomes(demo: Path, tmp_path: Path) -> None:
    report = asyncio.run(api.check([str(demo / "DemoTest")], simulate=True))
    assert isinstance(report, api.CheckReport) and report.simulated and not report.failed
    assert [Path(o.path).name for o in report.outcomes] == ["Algebra.lean", "Lemmas.lean", "Order.lean"]
    assert asyncio.run(api.check([str(tmp_path / "missing.lean")], simulate=True)).endswith(
        "missing.lean: no such file or folder"
    )  # type: ignore[union-attr]
    (tmp_path / "notes.txt").write_text("")
    assert asyncio.run(api.check([str(tmp_path / "notes.txt")], simulate=True)).endswith("not a Lean file or a folder")  # type: ignore[union-attr]
