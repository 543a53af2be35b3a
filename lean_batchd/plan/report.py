"""A plan as the `plan` command shows it: one JSON document, or a table."""

from __future__ import annotations

import textwrap
from typing import Any

from .elaboration import ElaborationPath
from .planner import Plan


def plan_json(plan: Plan, scope: str | None = None) -> dict[str, Any]:
    """`scope`: the folder or file the plan is restricted to (None: the whole project)."""
    return {
        "scope": scope,
        "profile": str(plan.profile),
        "strategy": str(plan.strategy),
        "batches": [
            {
                "id": b.id,
                "session_key": b.key.to_json(),
                "imports": [i.to_json() for i in b.key.imports],
                "options": dict(b.key.options),
                "elaboration": b.elaboration.to_json(),
                "modules": [{**w.to_json(), "elaboration": b.elaboration.to_json()} for w in b.modules],
                "fingerprint": b.fingerprint,
                "closure_size": b.closure_size,
                "capability": b.capability(),
            }
            for b in plan.batches
        ],
        "stats": plan.stats.to_json(),
        "diagnostics": [d.to_json() for d in plan.diagnostics],
    }


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def plan_table(plan: Plan, project_name: str, width: int = 100) -> str:
    """A line per session (its id as `check`, `status` and the editors show it) and a line of
    its modules, each cut to `width` columns."""
    s = plan.stats
    room = max(width - 43, 10)

    def cut(text: str) -> str:
        return text if len(text) <= room else text[: room - 1] + "…"

    lines = [f"Plan for {project_name}: {plan.profile} profile, {plan.strategy} strategy", ""]
    lines.append(f"{'session':<8}  {'target':<14} {'modules':>7} {'closure':>7}  imports / modules")
    for b in plan.batches:
        imports = ", ".join(i.render() for i in b.key.imports) or "(no imports)"
        target = (b.key.target or "-")[:14]
        via = "" if b.elaboration.path is ElaborationPath.REPL else "[lean --json] "
        lines.append(f"{b.id[:8]:<8}  {target:<14} {len(b.modules):>7} {b.closure_size:>7}  {cut(via + imports)}")
        lines.append(f"{'':<41}→ {cut(', '.join(b.names()))}")
    ratio = f", {s.naive_imported_modules_total / s.imported_modules_total:.2f}x" if s.imported_modules_total else ""
    total = (
        f"{_n(s.modules, 'module')} in {_n(s.batches, 'session')} "
        f"(largest: {_n(s.largest_batch, 'module')}, {s.largest_closure:,} imported); "
        f"sessions import {s.imported_modules_total:,} modules in all, against {s.naive_imported_modules_total:,} "
        f"with one session per module{ratio}"
    )
    lines += ["", textwrap.fill(total, width, subsequent_indent="  ")]
    lines += [d.render() for d in plan.diagnostics]
    return "\n".join(lines)
