"""Plan diffs: what changed between two plans, batch by batch (pushed to editors)."""

from __future__ import annotations

from dataclasses import dataclass

from .planner import Batch, Plan


@dataclass(frozen=True, slots=True)
class BatchChange:
    id: str
    added_modules: tuple[str, ...]
    removed_modules: tuple[str, ...]
    changed_modules: tuple[str, ...]
    """Modules whose content or imports changed (their closure digest moved)."""

    def reasons(self) -> list[str]:
        out = [f"{m} joined" for m in self.added_modules] + [f"{m} left" for m in self.removed_modules]
        return out + [f"{m} or something it imports changed" for m in self.changed_modules]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "addedModules": list(self.added_modules),
            "removedModules": list(self.removed_modules),
            "changedModules": list(self.changed_modules),
            "reasons": self.reasons(),
        }


@dataclass(frozen=True, slots=True)
class PlanDiff:
    added: tuple[Batch, ...]
    removed: tuple[Batch, ...]
    changed: tuple[BatchChange, ...]
    unchanged: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, object]:
        """Added, removed and changed batches in full; unchanged ones only counted (on Mathlib a
        one-file edit leaves thousands of batches unchanged, which editors need not be told)."""
        return {
            "added": [{"id": b.id, "modules": list(b.names())} for b in self.added],
            "removed": [{"id": b.id, "modules": list(b.names())} for b in self.removed],
            "changed": [c.to_json() for c in self.changed],
            "unchangedCount": len(self.unchanged),
        }


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Batches are matched by id (their session key); a batch changed when its fingerprint did.

    A batch object carried over unchanged into the new plan (as `refresh_plan` does) is
    recognised by identity first, so a small change costs little on a large plan."""
    shared = {id(b) for b in old.batches} & {id(b) for b in new.batches}
    unchanged = [b.id for b in new.batches if id(b) in shared]
    before = {b.id: b for b in old.batches if id(b) not in shared}
    after = {b.id: b for b in new.batches if id(b) not in shared}
    changed: list[BatchChange] = []
    for bid in sorted(before.keys() & after.keys()):
        a, b = before[bid], after[bid]
        if a.fingerprint == b.fingerprint:
            unchanged.append(bid)
            continue
        digests_a = dict(zip(a.names(), a.digests, strict=True))
        digests_b = dict(zip(b.names(), b.digests, strict=True))
        moved = tuple(m for m in sorted(digests_a.keys() & digests_b.keys()) if digests_a[m] != digests_b[m])
        joined = tuple(sorted(digests_b.keys() - digests_a.keys()))
        left = tuple(sorted(digests_a.keys() - digests_b.keys()))
        changed.append(BatchChange(bid, joined, left, moved))
    return PlanDiff(
        added=tuple(after[i] for i in sorted(after.keys() - before.keys())),
        removed=tuple(before[i] for i in sorted(before.keys() - after.keys())),
        changed=tuple(changed),
        unchanged=tuple(sorted(unchanged)),
    )
