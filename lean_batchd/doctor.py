"""`lean-batchd doctor`: what running real Lean here needs, found or not, and whether it works.

Finding files proves little: a REPL of another Lean version, or `.olean` files
another Lean wrote, only fail at the first import. So when a REPL is found, the
doctor runs it the way a check would (the worker path: `lake env repl`, the
project's smallest header imported once) and asks `#eval Lean.versionString`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from .lake import LakeProject
from .lake.toolchain import Toolchain, classify
from .plan import PlanConfig, plan_project
from .plan.elaboration import ElaborationPath
from .workers.failures import WorkerFailure
from .workers.locate import ReplFound, ReplMismatch, find_repl, same_lean
from .workers.pool import PoolConfig, WorkerPool
from .workers.protocol import Command, CommandReply

_QUOTED_RE = re.compile(r'"([^"]+)"')


@dataclass(frozen=True, slots=True)
class SmokeTest:
    ok: bool
    header: str
    """The imports the worker loaded (the project's smallest header)."""
    seconds: float
    lean_version: str | None
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "header": self.header,
            "seconds": round(self.seconds, 3),
            "leanVersion": self.lean_version,
            "message": self.message,
        }


async def smoke_test(project: LakeProject, command: tuple[str, ...], timeout: float = 600.0) -> SmokeTest:
    """Start a worker for the project's smallest REPL header and ask Lean for its version."""
    plan = plan_project(project, PlanConfig(worker_command=command))
    batches = [b for b in plan.batches if b.elaboration.path is ElaborationPath.REPL]
    toolchain = classify(project.workspace.toolchain.spec)
    if not batches:
        return SmokeTest(False, "", 0.0, None, "no module of the project runs in a REPL session")
    batch = min(batches, key=lambda b: (b.closure_size, b.id))
    header = ", ".join(i.render() for i in batch.key.imports) or "(no imports)"
    began = time.monotonic()
    async with WorkerPool(PoolConfig(max_workers=1, import_timeout=timeout, request_timeout=timeout)) as pool:
        lease = await pool.acquire(batch.key, closure_size=batch.closure_size)
        if isinstance(lease, WorkerFailure):
            return SmokeTest(False, header, time.monotonic() - began, None, lease.message)
        try:
            reply = await lease.run(Command("#eval Lean.versionString"))
        finally:
            pool.release(lease)
    seconds = time.monotonic() - began
    if not isinstance(reply, CommandReply):
        said = reply.message if isinstance(reply, WorkerFailure) else str(reply.to_json())
        return SmokeTest(False, header, seconds, None, f"`#eval Lean.versionString` failed: {said}")
    found = next((m.group(1) for msg in reply.messages if (m := _QUOTED_RE.search(msg.data))), None)
    ok, message = _verdict(found, toolchain)
    return SmokeTest(ok, header, seconds, found, message)


def _verdict(version: str | None, toolchain: Toolchain) -> tuple[bool, str]:
    if version is None:
        return False, "the REPL answered `#eval Lean.versionString` with no version"
    if same_lean(toolchain, version) is False:
        return False, f"the REPL runs Lean {version}, the project pins {toolchain.spec}"
    return True, f"imported and elaborated with Lean {version}"


def repl_report(project: LakeProject, setting: str | None) -> tuple[dict[str, object], ReplFound | None]:
    """The `repl` part of the report: the REPL found with its version, or what is wrong."""
    got = find_repl(Path(project.root.root), setting)
    if isinstance(got, ReplFound):
        return got.to_json(), got
    return {"missing": got.message(), "mismatch": isinstance(got, ReplMismatch)}, None
