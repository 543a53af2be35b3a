"""What an update announces: the plan change, as soon as it is known.

`PlanNews` says which batches came, went or changed between two generations
of a project's snapshot: those whose session key came or went, those modules
joined or left, and those holding a module whose own source changed (its
bytes or its imports), each with every module whose closure digest moved.
All of that is known from session keys and the import graph alone, before any
fingerprint is computed. An edit of a module thousands of others import also
moves the fingerprints of the batches holding those importers: they are
counted (`dependents`), not listed, so the notification stays proportional to
the edit, and `plan` gives their new fingerprints when asked. News is encoded
once, off the event loop; news for a client that fell behind is composed: one
news from the generation it last heard of to the latest, never a queue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..plan.diff import BatchChange


@dataclass(frozen=True, slots=True)
class PlanNews:
    since: int
    """The generation the change is from (the client's last news, when composed)."""
    generation: int
    fingerprint: str
    """The project fingerprint's digest at `generation`."""
    added: tuple[tuple[str, tuple[str, ...]], ...]
    """New batches: (id, modules)."""
    removed: tuple[tuple[str, tuple[str, ...]], ...]
    """Batches gone: (id, the modules they had)."""
    changed: tuple[BatchChange, ...]
    """Batches modules joined or left, or holding a module whose own source changed."""
    dependents: frozenset[str]
    """Other batches whose fingerprint moved: modules they hold import a changed module."""
    moved: int
    """Modules whose closure digest moved (in `changed` batches or `dependents`)."""
    batches: int
    """How many batches the plan has at `generation`."""
    encoded: str = field(default="", compare=False, repr=False)
    """`to_json()` as compact JSON (set by `plan_news`)."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.dependents)

    @property
    def unchanged(self) -> int:
        return self.batches - len(self.added) - len(self.changed) - len(self.dependents)

    def to_json(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "generation": self.generation,
            "since": self.since,
            "diff": {
                "added": [{"id": i, "modules": list(m)} for i, m in self.added],
                "removed": [{"id": i, "modules": list(m)} for i, m in self.removed],
                "changed": [c.to_json() for c in self.changed],
                "dependents": {"batches": len(self.dependents), "modules": self.moved},
                "unchangedCount": self.unchanged,
            },
        }


def plan_news(
    since: int,
    generation: int,
    fingerprint: str,
    added: Mapping[str, tuple[str, ...]],
    removed: Mapping[str, tuple[str, ...]],
    changed: Mapping[str, BatchChange],
    dependents: frozenset[str],
    moved: int,
    batches: int,
) -> PlanNews:
    """News in a stable order (by batch id), encoded: call it off the event loop."""
    news = PlanNews(
        since, generation, fingerprint,
        tuple(sorted(added.items())), tuple(sorted(removed.items())),
        tuple(changed[i] for i in sorted(changed)), dependents, moved, batches,
    )  # fmt: skip
    text = json.dumps(news.to_json(), ensure_ascii=True, separators=(",", ":"))
    object.__setattr__(news, "encoded", text)
    return news


def compose(first: PlanNews, then: PlanNews) -> PlanNews:
    """One news for both, from `first.since` to `then.generation` (`then.since` must be
    `first.generation`). A module that left a batch and came back, or a batch that went and came
    back, is reported as changed, and a batch that changed in either as changed or a dependent:
    whether its fingerprint is the same again is not known here."""
    a_add, a_rem, a_chg = dict(first.added), dict(first.removed), {c.id: c for c in first.changed}
    b_add, b_rem, b_chg = dict(then.added), dict(then.removed), {c.id: c for c in then.changed}
    added: dict[str, tuple[str, ...]] = {}
    removed: dict[str, tuple[str, ...]] = {}
    changed: dict[str, BatchChange] = {}
    for bid, mods in a_add.items():
        if bid in b_rem:
            continue
        later = b_chg.get(bid)
        added[bid] = (
            mods if later is None else _sorted((set(mods) - set(later.removed_modules)) | set(later.added_modules))
        )
    for bid, mods in a_rem.items():
        if bid in b_add:
            old, new = set(mods), set(b_add[bid])
            changed[bid] = BatchChange(bid, _sorted(new - old), _sorted(old - new), _sorted(new & old))
        else:
            removed[bid] = mods
    for bid, c in a_chg.items():
        if bid in b_rem:
            removed[bid] = _sorted((set(b_rem[bid]) - set(c.added_modules)) | set(c.removed_modules))
        elif bid in b_chg:
            merged = _merged(c, b_chg[bid])
            if merged is not None:
                changed[bid] = merged
        else:
            changed[bid] = c
    for bid, mods in b_add.items():
        if bid not in a_rem:
            added[bid] = mods
    for bid, mods in b_rem.items():
        if bid not in a_add and bid not in a_chg:
            removed[bid] = mods
    for bid, c in b_chg.items():
        if bid not in a_add and bid not in a_chg:
            changed[bid] = c
    listed = added.keys() | removed.keys() | changed.keys()
    dependents = frozenset((first.dependents | then.dependents) - listed)
    moved = max(first.moved, then.moved)  # at least; the union's size is not known here
    return plan_news(
        first.since, then.generation, then.fingerprint, added, removed, changed, dependents, moved, then.batches
    )


def _merged(a: BatchChange, b: BatchChange) -> BatchChange | None:
    a_in, a_out, b_in, b_out = (
        set(x) for x in (a.added_modules, a.removed_modules, b.added_modules, b.removed_modules)
    )
    joined = (a_in - b_out) | (b_in - a_out)
    left = (a_out - b_in) | (b_out - a_in)
    back = a_out & b_in
    moved = ((set(a.changed_modules) | set(b.changed_modules)) - joined - left - (a_in & b_out)) | back
    if not (joined or left or moved):
        return None
    return BatchChange(a.id, _sorted(joined), _sorted(left), _sorted(moved))


def _sorted(names: set[str]) -> tuple[str, ...]:
    return tuple(sorted(names))
