"""What the pool's parts share: its state, and the primitives each part calls on the others.

`WorkerPool` is admission (who gets which worker, and when: `pool.py`) on top of
two parts it inherits, each in a module of its own: a worker's life from spawn
to reaping (`lifecycle.py`) and holding memory within its limits while workers
run (`memory_policy.py`). Each part declares nothing of the others: this base,
last in the pool's method order, names what they call on one another, so every
part type-checks alone and no part's declaration hides another's definition.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..plan.keys import RestartPolicy, SessionKey
from .failures import WorkerFailure
from .history import SessionHistory
from .pool_config import PoolConfig
from .worker import Worker, WorkerInfo, WorkerState


@dataclass(slots=True)
class Waiter:
    """A lease waiting in the pool's queue."""

    key: SessionKey
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    needs_room: bool = True
    """False while it only waits for a worker of its own key (busy, or starting): then it does not
    hold back the waiters behind it, which may need room for other keys."""


class PoolCore(ABC):
    config: PoolConfig
    workers: list[Worker]
    counters: defaultdict[str, float]
    history: SessionHistory
    _estimates: dict[int, float]
    """A worker's estimated cost when it was admitted (by worker id)."""
    _queue: deque[Waiter]
    _tasks: set[asyncio.Task[Any]]
    _housekeeping: asyncio.Task[None] | None
    _closed: bool
    _listeners: list[Callable[[WorkerInfo], None]]

    # -- admission (pool.py) ---------------------------------------------------------

    @abstractmethod
    def _live(self) -> list[Worker]: ...

    @abstractmethod
    def _wake(self) -> None: ...

    @abstractmethod
    def _policy(self, key: SessionKey) -> RestartPolicy: ...

    @abstractmethod
    def _make_room(self, key: SessionKey, for_lease: bool = False, spare_of: Worker | None = None) -> bool: ...

    @abstractmethod
    def _restart_refusal(self, key: SessionKey) -> WorkerFailure | None: ...

    # -- lifecycle (lifecycle.py) ----------------------------------------------------

    @abstractmethod
    def _new_worker(self, key: SessionKey, reason: str | None) -> Worker: ...

    @abstractmethod
    def _start_in_background(self, worker: Worker) -> asyncio.Task[WorkerFailure | None]: ...

    @abstractmethod
    def _retire(self, worker: Worker, reason: str, kill: bool = False) -> None: ...

    @abstractmethod
    def _own_limit(self, w: Worker, ahead: int = 0) -> str | None: ...

    @abstractmethod
    def _measure(self, worker: Worker) -> None: ...

    @abstractmethod
    def _set_state(self, worker: Worker, state: WorkerState) -> None: ...

    @abstractmethod
    def _notify(self, worker: Worker) -> None: ...

    # -- memory (memory_policy.py) ---------------------------------------------------

    @abstractmethod
    def _count_recycle(self, worker: Worker, reason: str) -> None: ...

    @abstractmethod
    def _start_spare(self, worker: Worker, reason: str | None = None) -> None: ...

    @abstractmethod
    def _memory_reason(self, w: Worker, ahead: int = 0) -> str | None: ...

    @abstractmethod
    def _holding(self) -> list[Worker]: ...

    @abstractmethod
    def _track_peak(self) -> float: ...

    @abstractmethod
    def _hold_limits(self) -> None: ...
