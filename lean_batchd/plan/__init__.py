"""The planner: session keys, batches, plan diffs. Pure: no processes, no I/O beyond the model.

It says which modules can run against the same worker session requirements;
whether any downstream result is still valid stays the caller's policy.
"""

from .closures import ClosureIndex
from .diff import BatchChange, PlanDiff, diff_plans
from .elaboration import Elaboration, ElaborationPath, elaboration_of
from .keys import MetadataExpectation, Profile, RestartPolicy, SessionKey, Strategy, header_imports
from .model import context_for, plan_project
from .planner import Batch, ImportGraph, Plan, PlanConfig, PlanContext, PlanStats, plan, refresh_plan, session_key
from .work import ModuleWork, work_from_model

__all__ = [
    "Batch",
    "BatchChange",
    "ClosureIndex",
    "Elaboration",
    "ElaborationPath",
    "ImportGraph",
    "MetadataExpectation",
    "ModuleWork",
    "Plan",
    "PlanConfig",
    "PlanContext",
    "PlanDiff",
    "PlanStats",
    "Profile",
    "RestartPolicy",
    "SessionKey",
    "Strategy",
    "context_for",
    "diff_plans",
    "elaboration_of",
    "header_imports",
    "plan",
    "plan_project",
    "refresh_plan",
    "session_key",
    "work_from_model",
]
