"""Checking many files: group them by session, run the groups in parallel lanes.

Planned, files that share a session key run one after another on one warm
worker, and up to `jobs` sessions run at once; naive, every file is its own
group (the caller gives a pool that retires each worker after one file). Where
the files are checked is a `CheckTarget`: this process's engine, or a running
daemon, so that `check` can share the daemon's warm workers. Snippets (Lean
text with its own header, `engine.snippets`) are checked the same way: a
`SnippetTarget` makes a target's snippet door a `CheckTarget` whose items are
snippet names instead of paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..lake.header import Import
from ..plan.keys import header_imports
from ..workers.shielding import cancel_and_wait
from .batches import check_batch
from .engine import Engine
from .outcome import FileOutcome, FileStatus
from .snippets import snippet_header
from .values import EngineError, ErrorKind

FATAL = frozenset({ErrorKind.NO_REPL, ErrorKind.REPL_MISMATCH, ErrorKind.NO_DAEMON})
"""Errors that every later file would meet too: they stop the run."""


class CheckTarget(Protocol):
    """Checks items: file paths (or, through a `SnippetTarget`, snippet names)."""

    simulated: bool

    async def ready(self, path: str) -> EngineError | None:
        """Why checking cannot start at all (no Lean REPL), before anything is planned."""

    async def session_of(self, path: str) -> tuple[str, str] | EngineError:
        """The file's session key digest and a label for it (its imports)."""

    async def check(self, path: str, more_in_session: bool = True) -> FileOutcome | EngineError:
        """`more_in_session`: files of the same session follow this one (worth a warm spare)."""

    async def workers(self) -> tuple[int, float]:
        """Warm workers and the memory they are charged (for progress)."""

    async def memory(self) -> PoolMemory:
        """The pool's memory now (its workers measured afresh where the pool is local)."""


@dataclass(frozen=True, slots=True)
class PoolMemory:
    charged_mb: float
    budget_mb: float | None
    peak_charged_mb: float
    """The pool's own peak since it started (sampled every 100 ms while busy)."""
    recycles: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def from_json(pool: dict[str, Any]) -> PoolMemory:
        """From the `pool` object of `$/leanBatchd/status`."""
        return PoolMemory(
            float(pool.get("chargedMb", 0.0)),
            pool.get("budgetMb"),
            float(pool.get("peakChargedMb", 0.0)),
            {str(k): int(v) for k, v in (pool.get("recycles") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class MemoryUse:
    """What the workers' memory did during a run: `check --json`'s `memory` object."""

    budget_mb: float | None
    peak_charged_mb: float
    """The highest charged memory of all workers seen during the run, sampled every 100 ms."""
    recycles: dict[str, int]
    """Workers recycled or stopped for a limit during the run, by reason (the daemon's pool is
    shared: its other clients' recycles in that time count too)."""

    def to_json(self) -> dict[str, object]:
        return {
            "budgetMb": None if self.budget_mb is None else round(self.budget_mb),
            "peakChargedMb": round(self.peak_charged_mb, 1),
            "recycled": sum(self.recycles.values()),
            "recycles": dict(self.recycles),
        }


SAMPLE_SECONDS = 0.1


async def watch_memory(target: CheckTarget, run: Callable[[], Any]) -> tuple[Any, MemoryUse]:
    """Run `run()` while sampling the target's memory every 100 ms. The pool samples its own peak
    too: if that rose during the run, it is the run's peak (it catches what falls between ours)."""
    first = await target.memory()
    peak = [first.charged_mb]

    async def sample() -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            peak.append((await target.memory()).charged_mb)

    sampler = asyncio.create_task(sample())
    try:
        result = await run()
    finally:
        await cancel_and_wait(sampler)
    last = await target.memory()
    highest = max(*peak, last.charged_mb)
    if last.peak_charged_mb > first.peak_charged_mb:
        highest = max(highest, last.peak_charged_mb)
    recycles = {k: n - first.recycles.get(k, 0) for k, n in last.recycles.items() if n > first.recycles.get(k, 0)}
    return result, MemoryUse(last.budget_mb, highest, recycles)


@dataclass(frozen=True, slots=True)
class FileGroup:
    key: str
    label: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    group: FileGroup
    outcome: FileOutcome | None
    """None when a file starts; the outcome when it is done."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    outcomes: tuple[FileOutcome, ...]
    """Sorted by path, whatever order they finished in."""
    sessions: int
    jobs: int
    planned: bool
    elapsed_seconds: float
    simulated: bool
    memory: MemoryUse | None = None

    @property
    def failed(self) -> bool:
        return any(o.status.failed for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        out = {str(s): 0 for s in FileStatus}
        for o in self.outcomes:
            out[str(o.status)] += 1
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "files": len(self.outcomes),
            "statuses": self.counts(),
            "sessions": self.sessions,
            "jobs": self.jobs,
            "planned": self.planned,
            "elapsedMs": round(self.elapsed_seconds * 1000, 1),
            "simulated": self.simulated,
            "cached": sum(1 for o in self.outcomes if o.cached),
            "memory": None if self.memory is None else self.memory.to_json(),
        }


async def plan_sessions(target: CheckTarget, paths: Sequence[str], planned: bool) -> list[FileGroup] | EngineError:
    """Files grouped by session key (first appearance order), or one group per file when not planned."""
    groups: dict[str, tuple[str, list[str]]] = {}
    singles: list[FileGroup] = []
    for path in paths:
        got = await target.session_of(path)
        if isinstance(got, EngineError):
            return got
        key, label = got
        if planned:
            groups.setdefault(key, (label, []))[1].append(path)
        else:
            singles.append(FileGroup(key, label, (path,)))
    if not planned:
        return singles
    return [FileGroup(key, label, tuple(members)) for key, (label, members) in groups.items()]


async def check_sessions(
    target: CheckTarget,
    sessions: Sequence[FileGroup],
    jobs: int,
    planned: bool,
    on_progress: Callable[[Progress], None] | None = None,
) -> CheckReport | EngineError:
    """Runs the sessions in `jobs` lanes, largest first. A missing Lean REPL or a lost daemon
    stops the run (every file would fail the same way); other per-file errors become that
    file's outcome."""
    started = time.monotonic()
    total = sum(len(s.paths) for s in sessions)
    queue = sorted(sessions, key=lambda s: -len(s.paths))
    results: dict[str, FileOutcome] = {}
    fatal: list[EngineError] = []

    async def lane() -> None:
        while queue and not fatal:
            group = queue.pop(0)
            if queue and isinstance(target, EngineTarget) and target.engine.executor.batched:
                await target.engine.prewarm(queue[0].paths[0])  # its actor starts while this one runs
            if on_progress is not None:
                on_progress(Progress(len(results), total, group, None))
            async for path, got in _outcomes(target, group):
                if isinstance(got, EngineError):
                    if got.kind in FATAL:
                        fatal.append(got)
                        return
                    got = FileOutcome(path, None, FileStatus.CRASHED, group.key, detail=got.message)
                results[path] = got
                if on_progress is not None:
                    on_progress(Progress(len(results), total, group, got))
                    if path != group.paths[-1]:  # the next file starts
                        on_progress(Progress(len(results), total, group, None))

    async def lanes() -> None:
        running = [asyncio.ensure_future(lane()) for _ in range(max(1, min(jobs, len(sessions))))]
        try:
            await asyncio.gather(*running)
        finally:  # one lane failing (a closed output pipe) or a cancellation stops the others
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    _, memory = await watch_memory(target, lanes)
    if fatal:
        return fatal[0]
    return CheckReport(
        outcomes=tuple(results[p] for p in sorted(results)),
        sessions=len({s.key for s in sessions}),
        jobs=jobs,
        planned=planned,
        elapsed_seconds=time.monotonic() - started,
        simulated=target.simulated,
        memory=memory,
    )


async def _outcomes(target: CheckTarget, group: FileGroup) -> AsyncGenerator[tuple[str, FileOutcome | EngineError]]:
    """The group's outcomes in order: one executor batch where a batch costs a round trip
    (`engine.batches`), else file by file, each knowing whether more of its session follow."""
    if isinstance(target, EngineTarget) and target.engine.executor.batched:
        batch = check_batch(target.engine, group.paths, target.timeout, target.build_check, target.cache)
        async with contextlib.aclosing(batch):
            async for got in batch:
                yield got
        return
    for path in group.paths:
        yield path, await target.check(path, path != group.paths[-1])


class EngineTarget:
    """Checks in this process, on the engine's own pool."""

    def __init__(
        self, engine: Engine, timeout: float | None = None, build_check: bool = True, cache: bool = True
    ) -> None:
        self.engine = engine
        self.timeout = timeout
        self.build_check = build_check
        self.cache = cache
        self.simulated = engine.config.simulated

    async def ready(self, path: str) -> EngineError | None:
        return await self.engine.repl_problem(path)

    async def session_of(self, path: str) -> tuple[str, str] | EngineError:
        info = await self.engine.module_info(path)
        if isinstance(info, EngineError):
            return info
        return info.session_key, ", ".join(info.imports) or "(no imports)"

    async def check(self, path: str, more_in_session: bool = True) -> FileOutcome | EngineError:
        return await self.engine.check(
            path, self.timeout, self.build_check, cache=self.cache, expect_more=more_in_session
        )

    async def workers(self) -> tuple[int, float]:
        return self.engine.executor.sessions()

    async def memory(self) -> PoolMemory:
        if self.engine.executor.batched:  # the sessions' memory is measured where they run
            charged = self.engine.executor.sessions()[1]
            return PoolMemory(charged, None, charged)
        pool = self.engine.pool
        charged = pool.measure()
        snapshot = pool.snapshot()
        return PoolMemory(charged, snapshot.budget_mb, snapshot.peak_charged_mb, dict(snapshot.recycles))

    async def snippet_session(self, code: str, folder: str | None) -> tuple[str, str] | EngineError:
        got = await self.engine.snippets.session(code, folder)
        if isinstance(got, EngineError):
            return got
        return got.key.digest, ", ".join(i.render() for i in got.key.imports) or "(no imports)"

    async def check_snippet(self, code: str, folder: str | None) -> FileOutcome | EngineError:
        return await self.engine.snippets.check(code, folder, self.timeout, self.build_check, self.cache)


class SnippetDoor(Protocol):
    """What a target offers for snippets (this process's engine, or the daemon)."""

    simulated: bool

    async def snippet_session(self, code: str, folder: str | None) -> tuple[str, str] | EngineError:
        """The snippet's session key digest and a label for it (its imports)."""

    async def check_snippet(self, code: str, folder: str | None) -> FileOutcome | EngineError: ...

    async def workers(self) -> tuple[int, float]: ...

    async def memory(self) -> PoolMemory: ...


HeaderIdentity = tuple[bool, bool, tuple[Import, ...]]


def header_identity(code: str) -> HeaderIdentity:
    """What a snippet's session key takes from its text (`module`, `prelude`, the imports in
    header order without duplicates): snippets equal in it share a key in one project."""
    header = snippet_header(code)
    return header.is_module, header.prelude, header_imports(header.imports)


class SnippetTarget:
    """Snippets as check items: `codes` maps each item's name to its text; all run in the project
    holding `folder` (None: the bare toolchain). A header's session is asked once."""

    def __init__(self, door: SnippetDoor, codes: Mapping[str, str], folder: str | None) -> None:
        self.door = door
        self.codes = codes
        self.folder = folder
        self.simulated = door.simulated
        self._sessions: dict[HeaderIdentity, tuple[str, str] | EngineError] = {}

    async def ready(self, item: str) -> EngineError | None:
        return None  # a missing REPL or project is the first session's answer

    async def session_of(self, item: str) -> tuple[str, str] | EngineError:
        identity = header_identity(self.codes[item])
        if identity not in self._sessions:
            self._sessions[identity] = await self.door.snippet_session(self.codes[item], self.folder)
        return self._sessions[identity]

    async def check(self, item: str, more_in_session: bool = True) -> FileOutcome | EngineError:
        got = await self.door.check_snippet(self.codes[item], self.folder)
        return got if isinstance(got, EngineError) else replace(got, path=item, module=None)

    async def workers(self) -> tuple[int, float]:
        return await self.door.workers()

    async def memory(self) -> PoolMemory:
        return await self.door.memory()
