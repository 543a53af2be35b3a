"""List each module's declarations through warm Lean sessions, with lean-batchd's Python API.

    python examples/list_declarations.py examples/demo [--simulate]

Discover the project, plan it (profile `module`, strategy `cover`: few
sessions whose imports load every module), then lease one warm worker per
batch and ask it, module by module, for the declarations that module added.
Without a Lean REPL (or with --simulate) it runs on the SIMULATED REPL
stand-in, and says so: the stand-in cannot know real declarations.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from lean_batchd import api

LIST_DECLARATIONS = """open Lean in
#eval show CoreM Unit from do
  let env ← getEnv
  for (mod, data) in env.header.moduleNames.zip env.header.moduleData do
    if mod == `{module} then
      for name in data.constNames do
        unless name.isInternal do IO.println name"""


async def main(root: str, simulate: bool) -> int:
    project = api.discover(root)
    if not isinstance(project, api.LakeProject):
        print(project.diagnostics[-1].render(), file=sys.stderr)
        return 2
    command = api.repl_command(project, simulate)
    if isinstance(command, api.ReplNotFound | api.ReplMismatch):
        print(f"no Lean REPL ({command.message()}); using the SIMULATED REPL", file=sys.stderr)
        command = api.repl_command(project, simulate=True)
        simulate = True
    config = api.PlanConfig(profile=api.Profile.MODULE, strategy=api.Strategy.COVER, worker_command=command)
    plan = api.plan_project(project, config)
    print(
        f"{project.name}: {plan.stats.modules} modules in {len(plan.batches)} sessions"
        + (" [SIMULATED REPL: not Lean]" if simulate else "")
    )
    async with api.WorkerPool(api.PoolConfig(max_workers=2)) as pool:
        for batch in plan.batches:
            async with pool.lease(batch.key, closure_size=batch.closure_size) as session:
                for work in batch.modules:
                    reply = await session.run(api.Command(LIST_DECLARATIONS.format(module=work.module)))
                    if isinstance(reply, api.CommandReply):
                        names = [line for m in reply.messages for line in m.data.splitlines() if line]
                        print(f"{work.module}: {', '.join(names) or '(none)'}")
                    else:
                        print(f"{work.module}: failed: {reply}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default="examples/demo")
    parser.add_argument("--simulate", action="store_true", help="use the SIMULATED REPL even where Lean is installed")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.root, args.simulate)))
