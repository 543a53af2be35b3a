"""The cluster as `lean-batchd status` prints it: nodes, their Lean memory, who lives where."""

from __future__ import annotations

from typing import Any

from ..terminal import plural


def cluster_lines(executor: dict[str, Any]) -> list[str]:
    """Nothing for the local pool (the workers' lines say it all)."""
    if executor.get("kind") != "ray":
        return []
    where = f"Ray at {executor.get('address')}, namespace {executor.get('namespace')}"
    if not executor.get("connected"):
        return [f"  executor: {where} (not joined yet)"]
    nodes = executor.get("nodes", [])
    lines = [
        f"  executor: {where}: {plural(len(nodes), 'node')}, {plural(len(executor.get('sessions', [])), 'session')}, "
        f"{executor.get('retriedFiles', 0)} files retried, {executor.get('lostActors', 0)} actors lost"
    ]
    for n in nodes:
        state = "" if n.get("alive") else " (dead)"
        keys = " ".join(k[:8] for k in n.get("sessions", [])) or "-"
        lines.append(
            f"    node {n['address']}{state}: {n['reservedMb']:.0f} of {n['memoryMb']:.0f} MB lean_memory_mb reserved; "
            f"sessions {keys}"
        )
    return lines
