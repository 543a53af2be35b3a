"""The REPL protocol: framing, validation, typed replies, and every recorded real session."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lean_batchd.testing.repl import read_requests
from lean_batchd.workers.failures import FailureKind, WorkerFailure
from lean_batchd.workers.process import ReplProcess
from lean_batchd.workers.protocol import (
    Command,
    CommandReply,
    FileCommand,
    PickleEnvironment,
    ProofStepReply,
    ProtocolError,
    ReplError,
    ReplyFramer,
    TacticStep,
    UnpickleEnvironment,
    encode,
    parse_reply,
    request_from_json,
)
from tests.conftest import REPO

TRANSCRIPTS = REPO / "tests" / "data" / "repl-transcripts"
SESSIONS = sorted(p.with_suffix("") for p in TRANSCRIPTS.rglob("*.in") if p.with_suffix(".expected.out").exists())


def test_requests_are_compact_json_and_a_blank_line() -> None:
    data = encode(Command("theorem t : True := by\n  trivial", env=3, all_tactics=True))
    assert data.endswith(b"}\n\n") and data.count(b"\n") == 2
    assert json.loads(data) == {"cmd": "theorem t : True := by\n  trivial", "env": 3, "allTactics": True}
    assert json.loads(encode(TacticStep("rfl", 2))) == {"tactic": "rfl", "proofState": 2}


@pytest.mark.parametrize(
    "bad",
    [Command("x", env=-1), Command("x", infotree="everything"), TacticStep("rfl", -2), PickleEnvironment("f", True)],  # type: ignore[arg-type]
)
def test_requests_that_would_kill_the_repl_are_refused(bad: object) -> None:
    with pytest.raises(ProtocolError):
        encode(bad)  # type: ignore[arg-type]


def test_decoding_follows_the_repls_dispatch_order() -> None:
    assert isinstance(request_from_json({"tactic": "rfl", "proofState": 0}), TacticStep)
    assert isinstance(request_from_json({"unpickleEnvFrom": "x"}), UnpickleEnvironment)
    assert isinstance(request_from_json({"path": "a.lean", "env": 1}), FileCommand)
    assert request_from_json({"cmd": "x", "rootGoals": True}) == Command("x", root_goals=True)
    with pytest.raises(ProtocolError):
        request_from_json({"bogus": 1})


def test_reply_kinds() -> None:
    assert parse_reply({"message": "Unknown environment."}) == ReplError("Unknown environment.")
    step = parse_reply({"proofStatus": "Completed", "proofState": 2, "goals": []})
    assert isinstance(step, ProofStepReply) and step.proof_status == "Completed"
    cmd = parse_reply({"env": 0, "custom": {"x": 1}})
    assert isinstance(cmd, CommandReply) and cmd.to_json() == {"env": 0, "custom": {"x": 1}}
    with pytest.raises(ProtocolError):
        parse_reply({"what": 1})


def test_framer_needs_the_blank_line() -> None:
    framer = ReplyFramer()
    assert framer.feed_line(b'{"env":\n') is None
    assert framer.feed_line(b" 0}\n") is None
    assert framer.feed_line(b"\n") == CommandReply(0)
    with pytest.raises(ProtocolError):
        framer.feed_line(b"not json\n")
        framer.feed_line(b"\n")


def test_every_session_is_recorded() -> None:
    assert len(SESSIONS) >= 70


@pytest.mark.parametrize("session", SESSIONS, ids=lambda p: str(p.relative_to(TRANSCRIPTS)))
def test_replay_of_a_real_repl_session(session: Path) -> None:
    """Frame each recorded request, send it through a pipe to the replaying stand-in (which checks
    it equals the recording), parse the byte-exact recorded reply, and lose nothing of it."""
    with open(session.with_suffix(".in"), encoding="utf-8") as f:
        requests = [request_from_json(json.loads(r)) for r in read_requests(f)]
    recorded = [
        json.loads(b)
        for b in session.with_suffix(".expected.out").read_text(encoding="utf-8").split("\n\n")
        if b.strip()
    ]

    async def replay() -> list[object]:
        import sys

        proc = await ReplProcess.spawn(
            (sys.executable, "-m", "lean_batchd.testing.repl", "--replay", str(session)), str(REPO)
        )
        assert isinstance(proc, ReplProcess)
        try:
            return [await proc.request(r, 10) for r in requests]
        finally:
            await proc.close()

    replies = asyncio.run(replay())
    assert len(replies) == len(recorded)
    for reply, expected in zip(replies, recorded, strict=True):
        assert not isinstance(reply, WorkerFailure), reply
        assert reply.to_json() == expected  # type: ignore[union-attr]


def test_a_dying_repl_is_a_crash_with_its_stderr() -> None:
    async def go() -> object:
        import sys

        proc = await ReplProcess.spawn((sys.executable, "-m", "lean_batchd.testing.repl"), str(REPO))
        assert isinstance(proc, ReplProcess)
        try:
            return await proc.request(Command("-- sim:crash"), 10)
        finally:
            await proc.close()

    failure = asyncio.run(go())
    assert isinstance(failure, WorkerFailure) and failure.kind is FailureKind.CRASH
    assert "INTERNAL PANIC" in failure.stderr and "134" in failure.message


def test_garbage_output_is_a_protocol_failure() -> None:
    async def go() -> object:
        import sys

        proc = await ReplProcess.spawn((sys.executable, "-m", "lean_batchd.testing.repl"), str(REPO))
        assert isinstance(proc, ReplProcess)
        try:
            await proc.request(Command(""), 10)
            return await proc.request(Command("-- sim:garbage", env=0), 10)
        finally:
            await proc.close()

    failure = asyncio.run(go())
    assert isinstance(failure, WorkerFailure) and failure.kind is FailureKind.PROTOCOL


def test_spawn_failure_is_a_value(tmp_path: Path) -> None:
    async def go() -> object:
        return await ReplProcess.spawn(("true",), str(tmp_path / "missing"))

    failure = asyncio.run(go())
    assert isinstance(failure, WorkerFailure) and failure.kind is FailureKind.SPAWN_FAILED
