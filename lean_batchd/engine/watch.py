"""Watching a project's files with watchdog, debounced into batches of paths.

Events on `.lean` files, lakefiles, `lake-manifest.json` and `lean-toolchain`
(and folders, for moves and `git checkout`) become model updates; `.olean`
files under build folders become artifact changes (they make warm sessions
stale); the rest of `.lake/` and hidden folders are ignored. Events arrive on
watchdog's thread and are handed to the event loop; a burst (thousands of
files from a checkout) is coalesced into one batch. watchdog does not report
inotify overflows to handlers, only in its log, so that log line is caught
and turned into a full rescan, started at once: events were lost, so waiting
for the burst to end would only serve a model known to be wrong for longer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

CONFIG_NAMES = frozenset({"lakefile.lean", "lakefile.toml", "lake-manifest.json", "lean-toolchain"})
ARTIFACT_SUFFIXES = (".olean", ".olean.server", ".olean.private")
SKIPPED_FOLDERS = frozenset({".lake", "lake-packages", "lean_packages", "build"})


@dataclass(slots=True)
class FileChanges:
    sources: set[str] = field(default_factory=set)
    """Files and folders whose change the model must see."""
    artifacts: set[str] = field(default_factory=set)
    """Build artifacts (`.olean`) that changed."""
    rescan: bool = False
    """Events may have been lost: look at everything again."""

    def __bool__(self) -> bool:
        return bool(self.sources or self.artifacts or self.rescan)


def classify(root: str, path: str, is_directory: bool, changes: FileChanges) -> None:
    """Sort one path into `changes` (or ignore it)."""
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        rel = path
    parts = rel.split(os.sep)
    name = parts[-1]
    if any(p.startswith(".") and p != ".lake" for p in parts[:-1]):
        return
    in_build = any(p in SKIPPED_FOLDERS for p in parts[:-1])
    if name.endswith(ARTIFACT_SUFFIXES):
        if "build" in parts or "lib" in parts:
            changes.artifacts.add(path)
        return
    if in_build:
        # Dependency sources live under .lake/packages/<pkg>/ (outside their own .lake).
        inside = parts[parts.index(".lake") + 1 :] if ".lake" in parts else []
        if (
            inside[:1] == ["packages"]
            and ".lake" not in inside[2:-1]
            and (name.endswith(".lean") or name in CONFIG_NAMES)
        ):
            changes.sources.add(path)
        return
    if name.startswith(".") and not is_directory:
        return
    if is_directory or name.endswith(".lean") or name in CONFIG_NAMES:
        changes.sources.add(path)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: ProjectWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write", "closed"):
            return
        if event.is_directory and event.event_type == "modified":
            return
        paths = [os.fsdecode(event.src_path)]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        self.watcher.from_thread(paths, event.is_directory)


class _OverflowLog(logging.Handler):
    """watchdog reports inotify overflows only by logging a warning: listen for it."""

    def __init__(self, watcher: ProjectWatcher) -> None:
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.watcher.lost_events()


class ProjectWatcher:
    def __init__(
        self,
        roots: list[Path],
        loop: asyncio.AbstractEventLoop,
        on_changes: Callable[[FileChanges], Coroutine[object, object, None]],
        debounce: float = 0.1,
        max_delay: float = 1.0,
    ) -> None:
        self.roots = [str(r) for r in roots]
        self.loop = loop
        self.on_changes = on_changes
        self.debounce = debounce
        self.max_delay = max_delay
        self._pending = FileChanges()
        self._first: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._observer: BaseObserver | None = None
        self._overflow = _OverflowLog(self)
        self.events = 0
        self.batches = 0

    def start(self) -> None:
        observer = Observer()
        handler = _Handler(self)
        for root in self.roots:
            if os.path.isdir(root):
                observer.schedule(handler, root, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._overflow)
        logging.getLogger("watchdog.observers.inotify").addHandler(self._overflow)

    def stop(self) -> None:
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._overflow)
        logging.getLogger("watchdog.observers.inotify").removeHandler(self._overflow)
        if self._timer is not None:
            self._timer.cancel()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    @property
    def alive(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    @property
    def waiting(self) -> bool:
        """Are changes held back for the debounce window?"""
        return bool(self._pending)

    def from_thread(self, paths: list[str], is_directory: bool) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._add, paths, is_directory)

    def lost_events(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._mark_rescan)

    def _mark_rescan(self) -> None:
        self._pending.rescan = True
        if self._timer is not None:
            self._timer.cancel()
        self._flush()

    def _add(self, paths: list[str], is_directory: bool) -> None:
        self.events += 1
        root = self.roots[0]
        for path in paths:
            classify(
                next((r for r in self.roots if path.startswith(r + os.sep)), root), path, is_directory, self._pending
            )
        if self._pending:
            self._schedule()

    def _schedule(self) -> None:
        now = self.loop.time()
        if self._first is None:
            self._first = now
        if self._timer is not None:
            self._timer.cancel()
        delay = min(self.debounce, max(0.0, self._first + self.max_delay - now))
        self._timer = self.loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        changes, self._pending = self._pending, FileChanges()
        self._first = None
        self._timer = None
        if changes:
            self.batches += 1
            self.loop.create_task(self.on_changes(changes), name="apply-changes")
