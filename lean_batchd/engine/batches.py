"""Checking a session's files as one executor batch (Ray: one actor call, not one per file).

Each file first passes `prepare_check` (the build check and the store) in the engine, as it
would alone; what is left to elaborate in the session goes to the executor as one batch, and
outcomes come back in the files' order as they finish, classified and stored by `finish_check`
exactly as `check_file` does, so a file's outcome does not depend on the executor.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from ..executors import BatchItem, ItemAnswer, SessionBatch
from ..plan.elaboration import ElaborationPath
from .elaborate import PendingCheck, finish_check, prepare_check, run_whole_file
from .managed import ManagedProject
from .outcome import FileOutcome
from .replies import body_of, run_result
from .values import EngineError, RunResult

if TYPE_CHECKING:
    from .engine import Engine

Prepared = tuple[str, FileOutcome | EngineError | PendingCheck, ManagedProject | None]


async def check_batch(
    engine: Engine, paths: tuple[str, ...], timeout: float | None, build_check: bool, cache: bool
) -> AsyncGenerator[tuple[str, FileOutcome | EngineError]]:
    """`(path, outcome)` for each of `paths` (files of one session), in order."""
    prepared: list[Prepared] = []
    for path in paths:
        got = await engine.runnable(path)
        if isinstance(got, EngineError):
            prepared.append((path, got, None))
            continue
        results = engine.result_store(got[0].root) if cache else None
        prepared.append(
            (path, await prepare_check(engine, got[0], got[1], got[1].path, build_check, None, results), got[0])
        )
    in_session = [p for _, p, _ in prepared if isinstance(p, PendingCheck) and _in_session(p)]
    streams: dict[str, AsyncGenerator[ItemAnswer, None]] = {}
    for key in dict.fromkeys(p.session.key for p in in_session):
        mine = [p for p in in_session if p.session.key == key]
        items = tuple(BatchItem(body_of(p.session, p.text), timeout, p is not mine[-1]) for p in mine)
        streams[key.full_digest] = engine.executor.run_batch(SessionBatch(key, mine[0].session.closure_size, items))
    try:
        for path, pending, project in prepared:
            if not isinstance(pending, PendingCheck):
                yield path, pending
                continue
            assert project is not None
            managed: ManagedProject = project
            result: RunResult | EngineError
            if _in_session(pending):
                answer = await anext(streams[pending.session.key.full_digest])
                result = run_result(
                    pending.session, pending.path, pending.text, answer.answer, answer.options,
                    answer.elapsed_seconds, engine.config.simulated,
                )  # fmt: skip
            else:
                result = await run_whole_file(
                    engine, managed, pending.session, pending.path, timeout, None, pending.text
                )
            results = engine.result_store(managed.root) if cache else None
            yield path, await finish_check(managed, pending, result, None, results)
    finally:
        for stream in streams.values():  # stopped early (a fatal error, a cancel): the executor stops too
            await stream.aclose()


def _in_session(pending: PendingCheck) -> bool:
    return pending.elaboration.path is not ElaborationPath.LEAN
