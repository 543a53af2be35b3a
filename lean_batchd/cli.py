"""The `lean-batchd` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .lake import LakeProject, ProjectOptions, WorkspaceOptions, discover
from .lake.report import project_json, project_summary
from .plan import PlanConfig, Profile, Strategy, plan_project
from .plan.report import plan_json, plan_table

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_PROJECT = 2


def _project(path: str, roots: Sequence[str] | None) -> LakeProject | int:
    options = ProjectOptions(
        only_roots=tuple(roots) if roots else None,
        workspace=WorkspaceOptions(query_lean_version=True),
    )
    found = discover(path, options)
    if isinstance(found, LakeProject):
        return found
    for d in found.diagnostics:
        print(f"lean-batchd: {d.render()}", file=sys.stderr)
    return EXIT_NO_PROJECT


def _discover(args: argparse.Namespace) -> int:
    project = _project(args.path, args.roots)
    if isinstance(project, int):
        return project
    if args.json:
        _print_json(project_json(project))
    else:
        print(project_summary(project))
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    project = _project(args.path, None)
    if isinstance(project, int):
        return project
    config = PlanConfig(
        profile=Profile(args.profile),
        strategy=Strategy(args.strategy),
        max_closure=args.max_closure,
        library=args.library,
    )
    result = plan_project(project, config)
    if args.json:
        _print_json(plan_json(result))
    else:
        print(plan_table(result, project.name))
    return EXIT_FAILED if any(d.severity == "error" for d in result.diagnostics) else EXIT_OK


def _print_json(doc: object) -> None:
    json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lean-batchd", description=__doc__)
    p.add_argument("--version", action="version", version=f"lean-batchd {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("discover", help="find a Lake project's modules, imports and fingerprints")
    d.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    d.add_argument("--roots", nargs="+", metavar="ROOT", help="only these module roots")
    d.add_argument("--json", action="store_true", help="one JSON document")
    d.set_defaults(run=_discover)
    pl = sub.add_parser("plan", help="group a project's modules into batches by the session that serves them")
    pl.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    pl.add_argument("--profile", choices=[str(p) for p in Profile], default=str(Profile.HEADER))
    pl.add_argument("--strategy", choices=[str(s) for s in Strategy], default=str(Strategy.EXACT))
    pl.add_argument("--max-closure", type=int, metavar="N", help="cover: at most N modules imported per session")
    pl.add_argument("--library", metavar="NAME", help="only this library's modules")
    pl.add_argument("--json", action="store_true", help="one JSON document")
    pl.set_defaults(run=_plan)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # `lean-batchd ... | head`
        sys.stderr.close()
        return EXIT_OK
    return code
