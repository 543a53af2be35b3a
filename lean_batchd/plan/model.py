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
    """The project's plan. Errors of its configuration (a lakefile or manifest that cannot be
    read) lead its diagnostics: an empty plan of an unreadable lakefile is no plan of the project."""
    made = plan(work_from_model(project, modules), context_for(project), config or PlanConfig())
    broken = tuple(d for d in project.workspace.diagnostics if d.severity is Severity.ERROR)
    return replace(made, diagnostics=broken + made.diagnostics) if broken else made
