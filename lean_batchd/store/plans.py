"""Plans remembered with the model they were made from (`lean-batchd plan`, run again).

Apart from `models` so that opening a model (`discover`) does not load the planner.
"""

from __future__ import annotations

from ..plan.model import plan_project
from ..plan.planner import Plan, PlanConfig
from .models import OpenedModel, save_project


def remembered_plan(opened: OpenedModel, config: PlanConfig) -> Plan:
    """The plan of `opened.project` under `config`: the one stored with the model when it was made
    for exactly this model, else planned now and stored with it (with `opened.key`)."""
    name = f"plan {config!r}"
    found = opened.derived.get(name)
    if isinstance(found, Plan):
        return found
    made = plan_project(opened.project, config)
    if opened.key is not None:
        save_project(opened.key, opened.project, {**opened.derived, name: made})
    return made
