"""`discover` and `plan`: answers about a project's Lake model, printed again from the project's
store while nothing they were computed from has changed (`store/answers.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .terminal import EXIT_FAILED, EXIT_NO_PROJECT, EXIT_OK, EXIT_USAGE, json_doc, missing

if TYPE_CHECKING:
    from .lake.project import LakeProject
    from .store.models import OpenedModel


def _opened(path: str, roots: Sequence[str] | None, remember: bool = True, save: bool = True) -> OpenedModel | int:
    """The project's model, from its store when it holds one (re-reading only what changed)."""
    from .lake import ProjectOptions, WorkspaceOptions
    from .store.models import OpenedModel, open_project

    if (problem := missing(path)) is not None:
        print(f"lean-batchd: {problem}", file=sys.stderr)
        return EXIT_NO_PROJECT
    options = ProjectOptions(
        only_roots=tuple(roots) if roots else None,
        workspace=WorkspaceOptions(query_lean_version=True),
    )
    found = open_project(path, options, remember, save)
    if isinstance(found, OpenedModel):
        return found
    for d in found.diagnostics:
        print(f"lean-batchd: {d.render()}", file=sys.stderr)
    return EXIT_NO_PROJECT


Made = tuple["OpenedModel", str, int]
"""A command's model, its output and its exit code."""


def _answered(args: argparse.Namespace, request: tuple[str, ...], make: Callable[[], Made | int]) -> int:
    """Print the answer to `request` (a pure function of the project model): the one the
    store remembers while nothing it was computed from changed, else `make`'s, remembered."""
    from .store.answers import Answer, remember_answer, stored_answer

    remember = not args.no_store and os.path.exists(args.path)
    if remember:
        try:
            request = (*request, os.path.abspath(args.path))
        except OSError:  # a relative path from a deleted working folder
            remember = False
    found = stored_answer(args.path, request) if remember else None
    if found is not None:
        sys.stdout.write(found.output)
        return found.exit_code
    made = make()
    if isinstance(made, int):
        return made
    opened, output, code = made
    sys.stdout.write(output)
    inputs = opened.project.inputs() if remember else None
    if inputs is not None:
        remember_answer(args.path, request, inputs, Answer(output, code))
    return code


def discover_command(args: argparse.Namespace) -> int:
    def make() -> Made | int:
        from .lake.report import project_json, project_summary

        opened = _opened(args.path, args.roots, not args.no_store)
        if isinstance(opened, int):
            return opened
        text = json_doc(project_json(opened.project)) if args.json else project_summary(opened.project) + "\n"
        errors = any(d.severity == "error" for d in opened.project.diagnostics())
        return opened, text, EXIT_FAILED if errors else EXIT_OK  # as a linter: 1 when it found errors

    return _answered(args, ("discover", str(args.json), *(args.roots or ())), make)


def plan_command(args: argparse.Namespace) -> int:
    from .terminal import width

    columns = width(sys.stdout) or 120

    def make() -> Made | int:
        from .plan import PlanConfig, Profile, Strategy, plan_project
        from .plan.report import plan_json, plan_table
        from .store.plans import remembered_plan

        opened = _opened(args.path, None, not args.no_store, save=False)
        if isinstance(opened, int):
            return opened
        config = PlanConfig(
            profile=Profile(args.profile),
            strategy=Strategy(args.strategy),
            max_closure=args.max_closure,
            library=args.library,
        )
        project = opened.project
        scope = _plan_scope(project, Path(args.path).resolve())
        if isinstance(scope, str):
            print(f"lean-batchd: {scope}", file=sys.stderr)
            return EXIT_USAGE
        if scope is None:
            result = remembered_plan(opened, config) if not args.no_store else plan_project(project, config)
        else:  # what `check PATH` runs: the sessions of the modules there
            result = plan_project(project, config, scope[1])
        shown = None if scope is None else scope[0]
        title = project.name if shown is None else f"{project.name}, {shown}"
        text = json_doc(plan_json(result, shown)) if args.json else plan_table(result, title, columns) + "\n"
        return opened, text, EXIT_FAILED if any(d.severity == "error" for d in result.diagnostics) else EXIT_OK

    request = (
        "plan",
        str(args.json),
        str(columns),
        args.profile,
        args.strategy,
        str(args.max_closure),
        str(args.library),
    )
    return _answered(args, request, make)


def _plan_scope(project: LakeProject, path: Path) -> tuple[str, list[str]] | str | None:
    """What `plan PATH` plans: None for the whole project (its root, or a file that is no module,
    such as the lakefile), else PATH as shown and the modules there, as `check PATH` selects them;
    or why there is nothing to plan."""
    if path == project.root.root:
        return None
    shown, modules = project.display(str(path)), [m.name for m in project.modules_under(path)]
    if modules:
        return shown, modules
    if path.is_dir():
        return f"{shown}: no modules of project {project.name} there"
    if path.suffix == ".lean" and path != project.root.lakefile:
        return f"{shown}: no library of project {project.name} builds it (`check` elaborates it on its own header)"
    return None
