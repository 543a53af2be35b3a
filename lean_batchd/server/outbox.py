"""A connection's notifications, kept to what its client can read.

While the client keeps up, a notification is written at once. Once it stops
reading (more than `HIGH_WATER` bytes queued for it), notifications are no
longer queued but kept as state, the latest winning: one plan change per
project, composed from the generation the client last heard of to the latest
(`engine.news.compose`, in a thread), the latest diagnostics per file, the
latest state per session. They are written, in that order, once the queue has
drained below `LOW_WATER`. So a slow reader is neither dropped nor sent a
backlog: it ends with the latest state, and what is kept for it is bounded by
the number of projects, files and workers, not by how long it stalled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from lsprotocol import types

from ..engine.news import PlanNews, compose
from ..workers.shielding import cancel_and_wait
from . import methods as m
from .transport import LoopWriter, frame

log = logging.getLogger(__name__)
HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024
POLL_SECONDS = 0.05


def plan_changed_frame(root_uri: str, news: PlanNews) -> bytes:
    """`planChanged` framed, around the news encoded once for every client (ASCII JSON)."""
    body = (
        f'{{"jsonrpc":"2.0","method":"{m.PLAN_CHANGED}","params":{{"root":{json.dumps(root_uri)},{news.encoded[1:]}}}'
    )
    data = body.encode("ascii")
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


def _compose_all(items: list[PlanNews]) -> PlanNews:
    out = items[0]
    for later in items[1:]:
        out = compose(out, later)
    return out


class Outbox:
    def __init__(self, writer: LoopWriter) -> None:
        self.writer = writer
        self._plans: dict[str, list[PlanNews]] = {}
        self._diagnostics: dict[str, dict[str, Any]] = {}
        self._workers: dict[str, dict[str, Any]] = {}
        self._draining: asyncio.Task[None] | None = None
        self.parked = 0
        """Notifications kept as state instead of written (for `status` and tests)."""

    def _holding(self) -> bool:
        if self._draining is not None:
            return True
        if self.writer.queued() <= HIGH_WATER:
            return False
        self._draining = asyncio.get_running_loop().create_task(self._drain(), name="outbox")
        return True

    def plan_changed(self, root_uri: str, news: PlanNews, framed: bytes | None = None) -> None:
        if not self._holding():
            self.writer.write(framed if framed is not None else plan_changed_frame(root_uri, news))
            return
        self.parked += 1
        self._plans.setdefault(root_uri, []).append(news)

    def notify(self, method: str, params: dict[str, Any], subject: str) -> None:
        """`publishDiagnostics` (subject: the file's URI) or `workerChanged` (the session key)."""
        if not self._holding():
            self.writer.write(frame({"jsonrpc": "2.0", "method": method, "params": params}))
            return
        self.parked += 1
        kept = self._diagnostics if method == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS else self._workers
        kept.pop(subject, None)  # the latest goes last, as it would have been written
        kept[subject] = params

    async def _drain(self) -> None:
        try:
            while True:
                for root_uri, items in list(self._plans.items()):
                    if len(items) > 1:  # compact while waiting: kept state stays bounded
                        taken = list(items)
                        composed = await asyncio.to_thread(_compose_all, taken)
                        self._plans[root_uri] = [composed, *self._plans[root_uri][len(taken) :]]
                if self.writer.closed:
                    return
                if self.writer.queued() <= LOW_WATER and all(len(i) == 1 for i in self._plans.values()):
                    break
                await asyncio.sleep(POLL_SECONDS)
            plans, self._plans = self._plans, {}
            diagnostics, self._diagnostics = self._diagnostics, {}
            workers, self._workers = self._workers, {}
            for root_uri, (news,) in plans.items():
                self.writer.write(plan_changed_frame(root_uri, news))
            for params in diagnostics.values():
                self.writer.write(
                    frame({"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, "params": params})
                )
            for params in workers.values():
                self.writer.write(frame({"jsonrpc": "2.0", "method": m.WORKER_CHANGED, "params": params}))
        finally:
            self._draining = None

    async def close(self) -> None:
        if self._draining is not None:
            await cancel_and_wait(self._draining)
