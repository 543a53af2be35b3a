"""Planning a discovered project: the context and work items come from the Lake model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..lake.diagnostics import Severity
from ..lake.project import LakeProject
from .closures import ClosureIndex
from .planner import Plan, PlanConfig, PlanContext, plan
from .work import work_from_model


def context_for(project: LakeProject, index: ClosureIndex | None = None) -> PlanContext:
    """A library counts as declared only when the lakefile declares it (not a legacy fallback)."""
    declared = tuple(lib.name for lib in project.workspace.config.libs if "legacy" not in lib.dynamic_fields)
    return PlanContext(
        project_root=str(project.root.root),
        package=project.name,
        toolchain=project.workspace.toolchain.identity,
        libraries=declared,
        graph=project.graph,
        index=index,
    )


def plan_project(project: LakeProject, config: PlanConfig | None = None, modules: Iterable[str] | None = None) -> Plan:
    """The project's plan (of `modules` only, when given), led by the project's errors that
    `discover` reports (a lakefile that cannot be read, an import that resolves nowhere): a plan
    of a broken project must not look like a plan of a sound one. With `modules`, the errors of
    files they do not load (themselves and what they import) are left to plans of those."""
    names = None if modules is None else list(modules)
    made = plan(work_from_model(project, names), context_for(project), config or PlanConfig())
    errors = [d for d in project.diagnostics() if d.severity is Severity.ERROR]
    if names is not None:
        graph = project.graph.modules
        files = {project.display(m.path) for m in project.local_modules()}
        mine = {project.display(graph[n].path) for n in project.graph.closure(names)}
        errors = [d for d in errors if d.path is None or d.path in mine or d.path not in files]
    return replace(made, diagnostics=(*errors, *made.diagnostics)) if errors else made
