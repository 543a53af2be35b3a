"""What the pool has learned about each session: import cost and time, growth, failures.

Admission estimates a new worker from it, the memory policy predicts a
worker's next request from it, and the restart limit reads its failures.
Keyed by session key (full digest), with the import header as a fallback:
two keys with the same imports (another restart policy, say) cost the same.
"""

from __future__ import annotations

import time
from collections import Counter, deque

from ..plan.keys import SessionKey


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


class SessionHistory:
    def __init__(self, base_mb: float, per_module_mb: float) -> None:
        self._base_mb = base_mb
        self._per_module_mb = per_module_mb
        self._costs: dict[str, float] = {}
        self._costs_by_imports: dict[str, float] = {}
        self._closures: dict[str, int] = {}
        self._growths: dict[str, float] = {}
        self.import_seconds: dict[str, float] = {}
        """Last import time per session key digest (what the snapshot shows)."""
        self.recycled: Counter[str] = Counter()
        self._failures: dict[str, deque[float]] = {}
        self._consecutive: Counter[str] = Counter()

    # -- imports and growth ---------------------------------------------------------

    def closure(self, key: SessionKey, size: int) -> None:
        self._closures[key.full_digest] = size

    def imported(self, key: SessionKey, charge_mb: float, seconds: float) -> None:
        self._costs[key.full_digest] = charge_mb
        self._costs_by_imports[key.header_text()] = charge_mb
        self.import_seconds[key.digest] = seconds
        self._consecutive[key.full_digest] = 0

    def estimate(self, key: SessionKey) -> float:
        """What a new worker for `key` will cost: its last import, or one with the same imports;
        else its closure size priced per module, or this pool's typical import if larger."""
        if key.full_digest in self._costs:
            return self._costs[key.full_digest]
        if (imports := key.header_text()) in self._costs_by_imports:
            return self._costs_by_imports[imports]
        size = self._closures.get(key.full_digest, len(key.imports))
        return max(self._base_mb + self._per_module_mb * size, _median(list(self._costs.values())))

    def grew(self, key: SessionKey, per_request_mb: float) -> None:
        self._growths[key.full_digest] = per_request_mb

    def growth(self, key: SessionKey) -> float:
        """Growth per request of this session's last worker, else the median over the pool's."""
        if key.full_digest in self._growths:
            return self._growths[key.full_digest]
        return _median(list(self._growths.values()))

    def seconds(self, key: SessionKey, default: float = 0.0) -> float:
        return self.import_seconds.get(key.digest, default)

    # -- failures -------------------------------------------------------------------

    def failed(self, key: SessionKey) -> None:
        self._failures.setdefault(key.full_digest, deque()).append(time.monotonic())
        self._consecutive[key.full_digest] += 1

    def recent_failures(self, key: SessionKey, window: float) -> int:
        recent = self._failures.get(key.full_digest)
        if recent is None:
            return 0
        now = time.monotonic()
        while recent and now - recent[0] > window:
            recent.popleft()
        return len(recent)

    def backoff(self, key: SessionKey, base: float, most: float) -> float:
        """Seconds left before the next start may begin: after the last failure, a wait doubling
        with each failure in a row."""
        n = self._consecutive[key.full_digest]
        failures = self._failures.get(key.full_digest)
        if not n or not failures:
            return 0.0
        return failures[-1] + min(base * 2.0 ** (n - 1), most) - time.monotonic()
