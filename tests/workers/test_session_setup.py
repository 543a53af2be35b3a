"""A session is the environment `lake build` elaborates in: the header imported, then Lake's options
set on that env, every body run on the result; ids from any reply are the session's own; a reply
of any size parses or retires the worker. On the SIMULATED REPL, which keeps each env's options."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from lean_batchd.workers import process
from lean_batchd.workers.failures import FailureKind, LeaseRefused, WorkerFailure
from lean_batchd.workers.pool import PoolConfig, WorkerPool
from lean_batchd.workers.protocol import Command, CommandReply, FileCommand, ProofStepReply, TacticStep
from tests.workers.conftest import KeyFactory

T = TypeVar("T")


def run(body: Callable[[WorkerPool], Awaitable[T]], **config: object) -> T:
    async def main() -> T:
        pool = WorkerPool(PoolConfig(idle_ttl=None, **config))  # type: ignore[arg-type]
        try:
            return await body(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def test_lakes_options_are_set_after_the_import_and_every_body_sees_them(make_key: KeyFactory) -> None:
    options = (
        ("autoImplicit", False),
        ("maxSynthPendingDepth", 3),
        ("weak.linter.unusedTactic", True),
        ("weak.sim.undeclared.lint", True),
        ("experimental.module", True),
    )
    key = replace(make_key(), options=options)

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(key) as lease:
            first = await lease.run("theorem one : True := trivial -- sim:options")
            second = await lease.run("theorem one : True := trivial -- sim:options")
            applied = lease.worker.options
        for reply in (first, second):  # each body on the options env, not on the previous body's
            assert isinstance(reply, CommandReply)
            assert [m.data for m in reply.messages] == [
                "options: autoImplicit=false, linter.unusedTactic=true, maxSynthPendingDepth=3 (simulated)"
            ]
        assert applied.applied == ("autoImplicit", "maxSynthPendingDepth", "weak.linter.unusedTactic")
        missed = dict(applied.not_applied)
        assert set(missed) == {"weak.sim.undeclared.lint", "experimental.module"}
        assert "do not declare it" in missed["weak.sim.undeclared.lint"]
        assert "while importing" in missed["experimental.module"]

    run(body)


def test_an_option_lean_refuses_fails_the_session_as_it_fails_lake_build(make_key: KeyFactory) -> None:
    key = replace(make_key(), options=(("sim.undeclared.strict", True),))

    async def body(pool: WorkerPool) -> None:
        with pytest.raises(LeaseRefused) as refused:
            async with pool.lease(key):
                pass
        failure = refused.value.failure
        assert failure.kind is FailureKind.IMPORT_FAILED
        assert "Lean refuses an option Lake passes: unknown option 'sim.undeclared.strict'" in failure.message

    run(body)


def test_an_env_less_file_command_is_refused_not_bound_to_the_session(make_key: KeyFactory, tmp_path: Path) -> None:
    """The REPL would elaborate the file's `import` lines on the session's env and fail; the
    caller means the file's body, or names an env itself."""
    file = tmp_path / "F.lean"
    file.write_text("import Demo.Basic\n\ntheorem f : True := trivial\n")

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(make_key()) as lease:
            refused = await lease.run(FileCommand(str(file)))
            assert isinstance(refused, WorkerFailure) and refused.kind is FailureKind.INVALID_REQUEST
            assert "has its own header" in refused.message and lease.lost is None
            base = lease.worker.base_env
            explicit = await lease.run(FileCommand(str(file), env=base))
            assert isinstance(explicit, CommandReply)
            assert [m.data for m in explicit.errors] == [
                "invalid 'import' command, it must be used in the beginning of the file (simulated)"
            ]

    run(body)


def test_proof_states_from_a_tactic_replys_sorries_can_be_stepped_on(make_key: KeyFactory) -> None:
    async def body(pool: WorkerPool) -> None:
        async with pool.lease(make_key()) as lease:
            command = await lease.run("theorem t (x : Nat) : x = x := by sorry")
            assert isinstance(command, CommandReply)
            (sorry,) = command.sorries
            assert sorry.proof_state is not None
            step = await lease.run(TacticStep("have h : x = 1 := by sorry", sorry.proof_state))
            assert isinstance(step, ProofStepReply) and len(step.sorries) == 1
            inner = step.sorries[0].proof_state
            assert inner is not None and inner < step.proof_state  # recorded before the step, as the REPL does
            closed = await lease.run(TacticStep("rfl", inner))
            assert isinstance(closed, ProofStepReply) and closed.proof_status == "Completed"

    run(body)


def test_a_reply_line_longer_than_the_stream_limit_parses(make_key: KeyFactory) -> None:
    async def body(pool: WorkerPool) -> None:
        async with pool.lease(make_key()) as lease:
            big = await lease.run("-- sim:big=20")  # one 20 MB message line (the stream limit is 16 MiB)
            assert isinstance(big, CommandReply) and len(big.messages[0].data) > 20 * 1024 * 1024
            after = await lease.run("#check Nat")
            assert isinstance(after, CommandReply) and after.messages[0].data == "#check Nat (simulated)"
            assert lease.worker.requests == 2 and lease.lost is None

    run(body)


def test_a_reply_over_the_size_limit_retires_the_worker(make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "MAX_REPLY_BYTES", 4 * 1024 * 1024)

    async def body(pool: WorkerPool) -> None:
        async with pool.lease(make_key()) as lease:
            pid = lease.worker.process.pid if lease.worker.process else None
            failed = await lease.run("-- sim:big=8")
            assert isinstance(failed, WorkerFailure) and failed.kind is FailureKind.PROTOCOL
            assert "over 4,194,304 bytes" in failed.message
        async with pool.lease(make_key()) as lease:
            assert lease.worker.process is not None and lease.worker.process.pid != pid
            again = await lease.run(Command("#check Nat"))
            assert isinstance(again, CommandReply) and again.messages[0].data == "#check Nat (simulated)"

    run(body)
