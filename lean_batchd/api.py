"""The Python API for downstream tools: discover, plan, then run Lean through warm sessions.

    project = api.discover("path/to/project")
    plan = api.plan_project(project, api.PlanConfig(worker_command=api.repl_command(project)))
    async with api.WorkerPool(api.PoolConfig(max_workers=2)) as pool:
        for batch in plan.batches:
            async with pool.lease(batch.key) as session:
                reply = await session.run(api.Command("#check Nat"))

A lease is one warm worker that has imported the batch's header exactly once;
every command runs against that import. Processes, pipes, env ids and restarts
stay inside the pool. See `docs/api.md` and `examples/list_declarations.py`.
"""

from __future__ import annotations

from pathlib import Path

from .check_command import CheckOptions, run_check, select_files
from .engine.checking import CheckReport
from .engine.config import EngineConfig
from .engine.outcome import FileOutcome, FileStatus
from .engine.values import EngineError
from .executors import ExecutorChoice
from .lake import LakeProject, discover
from .plan import Batch, Plan, PlanConfig, Profile, Strategy, plan_project
from .store.models import OpenedModel
from .testing import simulated_lean_command, simulated_repl_command
from .workers.failures import LeaseRefused, WorkerFailure
from .workers.limits import MemoryLimits
from .workers.locate import ReplFound, ReplMismatch, ReplNotFound, find_repl
from .workers.pool import Lease, PoolConfig, WorkerPool
from .workers.protocol import Command, CommandReply, Message, ReplError

__all__ = [
    "Batch",
    "CheckReport",
    "Command",
    "CommandReply",
    "EngineError",
    "ExecutorChoice",
    "FileOutcome",
    "FileStatus",
    "LakeProject",
    "Lease",
    "LeaseRefused",
    "Message",
    "Plan",
    "PlanConfig",
    "PoolConfig",
    "Profile",
    "ReplError",
    "ReplMismatch",
    "ReplNotFound",
    "Strategy",
    "WorkerFailure",
    "WorkerPool",
    "check",
    "discover",
    "plan_project",
    "repl_command",
]


def repl_command(project: LakeProject, simulate: bool = False) -> tuple[str, ...] | ReplNotFound | ReplMismatch:
    """The worker command for `project`: the Lean REPL of the project's Lean version under
    `lake env` (else what is missing or which version is wrong), or the SIMULATED stand-in
    when asked (its every answer says it is simulated)."""
    if simulate:
        return simulated_repl_command(import_seconds=0.48)
    found = find_repl(project.root.root)
    return found.command if isinstance(found, ReplFound) else found


async def check(
    paths: list[str],
    jobs: int = 2,
    simulate: bool = False,
    timeout: float | None = None,
    executor: ExecutorChoice | None = None,
) -> CheckReport | EngineError | str:
    """`lean-batchd check` without the terminal: each file elaborated in its header's warm
    session, memory bounded as the command line bounds it (`docs/memory.md`). A string says
    which path is not a Lean file or project folder. `executor`: where sessions run, e.g.
    `ExecutorChoice("ray", "auto")` for the Ray cluster this machine is part of
    (`docs/scale-out.md`); by default this process's pool."""
    config = EngineConfig(
        pool=PoolConfig(memory=MemoryLimits.derived()),
        worker_command=simulated_repl_command(import_seconds=0.48) if simulate else None,
        lean_command=simulated_lean_command() if simulate else None,
        simulated=simulate,
        executor=executor or ExecutorChoice(),
    )
    models: dict[Path, OpenedModel] = {}
    files = select_files(paths, models, config.project_options())
    if isinstance(files, str):
        return files
    options = CheckOptions(jobs=jobs, output="none", quiet=True, build_check=not simulate, timeout=timeout)
    return await run_check(files, options, config, None, models=models)
