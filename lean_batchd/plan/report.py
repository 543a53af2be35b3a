"""A plan as the `plan` command shows it: one JSON document, or a table."""

from __future__ import annotations

from typing import Any

from .planner import Plan


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "profile": str(plan.profile),
        "strategy": str(plan.strategy),
        "batches": [
            {
                "id": b.id,
                "session_key": b.key.to_json(),
                "imports": [i.to_json() for i in b.key.imports],
                "modules": [w.to_json() for w in b.modules],
                "fingerprint": b.fingerprint,
                "closure_size": b.closure_size,
                "capability": b.capability(),
            }
            for b in plan.batches
        ],
        "stats": plan.stats.to_json(),
        "diagnostics": [d.to_json() for d in plan.diagnostics],
    }


def plan_table(plan: Plan, project_name: str, width: int = 100) -> str:
    s = plan.stats
    lines = [f"Plan for {project_name}: {plan.profile} profile, {plan.strategy} strategy", ""]
    lines.append(f"{'batch':<17} {'target':<14} {'modules':>7} {'closure':>7}  session imports / modules")
    for b in plan.batches:
        imports = ", ".join(i.render() for i in b.key.imports) or "(no imports)"
        if len(imports) > width - 50:
            imports = imports[: width - 51] + "…"
        target = (b.key.target or "-")[:14]
        lines.append(f"{b.id:<17} {target:<14} {len(b.modules):>7} {b.closure_size:>7}  {imports}")
        names = ", ".join(b.names())
        if len(names) > width - 50:
            names = names[: width - 51] + "…"
        lines.append(f"{'':<49}→ {names}")
    ratio = f", {s.naive_imported_modules_total / s.imported_modules_total:.2f}x" if s.imported_modules_total else ""
    lines += [
        "",
        f"{s.modules} modules in {s.batches} batches "
        f"(largest: {s.largest_batch} modules, {s.largest_closure} imported); "
        f"sessions import {s.imported_modules_total} modules in all, against {s.naive_imported_modules_total} "
        f"with one session per module{ratio}",
    ]
    lines += [d.render() for d in plan.diagnostics]
    return "\n".join(lines)
