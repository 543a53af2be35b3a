"""The `lean-batchd` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .lake import LakeProject, ProjectOptions, WorkspaceOptions, discover
from .lake.report import project_json, project_summary

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
        json.dump(project_json(project), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(project_summary(project))
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lean-batchd", description=__doc__)
    p.add_argument("--version", action="version", version=f"lean-batchd {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("discover", help="find a Lake project's modules, imports and fingerprints")
    d.add_argument("path", nargs="?", default=".", help="a file or folder inside the project")
    d.add_argument("--roots", nargs="+", metavar="ROOT", help="only these module roots")
    d.add_argument("--json", action="store_true", help="one JSON document")
    d.set_defaults(run=_discover)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code
