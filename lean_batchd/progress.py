"""Progress of a `check` on the terminal: a live bar on a TTY, plain lines otherwise."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

from .engine.checking import Progress
from .terminal import PLAIN, STATUS_COLOUR, Palette, megabytes


class ProgressView:
    """One bar redrawn in place (files done and total, the current session, warm workers,
    memory) on a terminal; a line per finished file when the stream is a pipe or a file."""

    def __init__(
        self, stream: TextIO, display: Callable[[str], str], paint: Palette = PLAIN, noun: str = "file"
    ) -> None:
        self.stream = stream
        self.display = display
        self.noun = noun
        self.paint = paint
        self.live = stream.isatty()
        self.started = time.monotonic()
        self.last: Progress | None = None
        self.warm = 0
        self.memory_mb = 0.0

    def update(self, progress: Progress) -> None:
        self.last = progress
        if self.live:
            self._draw()
        elif progress.outcome is not None:
            o = progress.outcome
            width = len(str(progress.total))
            status = self.paint.paint(f"{o.status:<13}", STATUS_COLOUR.get(o.status))
            where = self.display(o.path)
            took = "cached" if o.cached else f"{o.elapsed_seconds:.2f} s"
            self.stream.write(f"[{progress.done:>{width}}/{progress.total}] {status} {where}  {took}\n")
            self.stream.flush()

    def workers(self, warm: int, memory_mb: float) -> None:
        self.warm, self.memory_mb = warm, memory_mb
        if self.live and self.last is not None:
            self._draw()

    def _draw(self) -> None:
        p = self.last
        assert p is not None
        columns = shutil.get_terminal_size((100, 20)).columns
        filled = int(20 * p.done / max(p.total, 1))
        bar = "█" * filled + "░" * (20 - filled)
        elapsed = time.monotonic() - self.started
        text = (
            f"{bar} {p.done}/{p.total} {self.noun}s  {elapsed:.1f} s  {self.warm} warm  {megabytes(self.memory_mb)}"
            f"  session {p.group.key[:8]} ({p.group.label})"
        )
        self.stream.write("\r\x1b[2K" + text[: columns - 1])
        self.stream.flush()

    def close(self) -> None:
        if self.live and self.last is not None:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
