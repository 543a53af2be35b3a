"""A worker: one REPL process holding one session (its key's header, imported exactly once)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from ..plan.elaboration import option_plan, set_options
from ..plan.keys import SessionKey
from .failures import FailureKind, WorkerFailure
from .locate import explain_import_failure
from .memory import NOTHING, MemoryFigures
from .process import ReplProcess
from .protocol import (
    Command,
    CommandReply,
    FileCommand,
    PickleEnvironment,
    PickleProofState,
    ProofStepReply,
    Reply,
    Request,
    TacticStep,
    UnpickleProofState,
)

_ids = itertools.count(1)


class WorkerState(StrEnum):
    STARTING = "starting"
    IMPORTING = "importing"
    WARM = "warm"
    BUSY = "busy"
    STALE = "stale"
    RETIRING = "retiring"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: int
    key_digest: str
    imports: tuple[str, ...]
    pid: int | None
    state: WorkerState
    stale: bool
    memory: MemoryFigures
    growth_mb: float
    """Charged memory gained since the import finished (the REPL frees nothing)."""
    requests: int
    recycles: int
    """How many of this session's workers the pool recycled before this one (memory, requests)."""
    recycle_pending: str | None
    """Why this worker will be recycled after its request, if it will."""
    age_seconds: float
    idle_seconds: float
    import_seconds: float | None
    last_restart_reason: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "sessionKey": self.key_digest,
            "imports": list(self.imports),
            "pid": self.pid,
            "state": str(self.state),
            "stale": self.stale,
            "memory": self.memory.to_json(),
            "growthMb": round(self.growth_mb, 1),
            "requests": self.requests,
            "recycles": self.recycles,
            "recyclePending": self.recycle_pending,
            "ageSeconds": round(self.age_seconds, 3),
            "idleSeconds": round(self.idle_seconds, 3),
            "importSeconds": None if self.import_seconds is None else round(self.import_seconds, 3),
            "lastRestartReason": self.last_restart_reason,
        }


@dataclass(frozen=True, slots=True)
class OptionsApplied:
    """What became of the session key's options: set on the env every body runs on, or not."""

    applied: tuple[str, ...] = ()
    not_applied: tuple[tuple[str, str], ...] = ()
    """(name, why): never dropped silently."""

    def to_json(self) -> dict[str, object]:
        return {
            "applied": list(self.applied),
            "notApplied": [{"name": name, "reason": why} for name, why in self.not_applied],
        }

    @staticmethod
    def from_json(doc: dict[str, object]) -> OptionsApplied:
        applied = doc.get("applied")
        missed = doc.get("notApplied")
        return OptionsApplied(
            tuple(str(n) for n in applied) if isinstance(applied, list) else (),
            tuple((str(m["name"]), str(m["reason"])) for m in missed if isinstance(m, dict))
            if isinstance(missed, list)
            else (),
        )


class Worker:
    def __init__(
        self, key: SessionKey, restart_reason: str | None = None, on_change: Callable[[Worker], None] | None = None
    ) -> None:
        self.id = next(_ids)
        self.key = key
        self.process: ReplProcess | None = None
        self.state = WorkerState.STARTING
        self._on_change = on_change
        self.stale = False
        self.base_env: int | None = None
        """The env every body runs on: the header's import with Lake's options set."""
        self.options = OptionsApplied()
        self.envs: set[int] = set()
        self.proof_states: set[int] = set()
        self.requests = 0
        self.answered = 0
        """Requests that got a reply (`requests` counts the one in flight too)."""
        self.created = time.monotonic()
        self.last_used = self.created
        self.import_seconds: float | None = None
        self.memory = NOTHING
        self.restart_reason = restart_reason
        self.claimed = False
        """A lease is waiting for this worker's start (else the start is a prewarm's, or abandoned)."""
        self.starting: asyncio.Task[WorkerFailure | None] | None = None
        self.import_mb = 0.0
        """Charged memory right after the import: growth is measured from here."""
        self.recycle_reason: str | None = None
        """Set while busy when a limit was crossed: recycled once its request is done."""
        self.spare: Worker | None = None
        """The worker warming to take this one's place."""
        self.lost_to: WorkerFailure | None = None
        """Why the pool killed this worker mid-request (its request's outcome says so)."""
        self.prior_growth_mb = 0.0
        """Growth per request seen on earlier workers of this session (or of the pool)."""
        self.expected_until = 0.0
        """Until when another request is expected (its last lease said more would follow)."""
        self.held_since: float | None = None
        """Since when it waits, idle, for the budget to have room for its next request."""
        self.recycles = 0

    def set_state(self, state: WorkerState) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(self)

    @property
    def growth_mb(self) -> float:
        return max(0.0, self.memory.charge_mb - self.import_mb) if self.base_env is not None else 0.0

    def expected_growth_mb(self) -> float:
        """What its next request will probably add: the mean growth per request so far, or before
        its first request what its session's (or the pool's) requests have added."""
        return self.growth_mb / self.answered if self.answered else self.prior_growth_mb

    def info(self) -> WorkerInfo:
        now = time.monotonic()
        return WorkerInfo(
            id=self.id,
            key_digest=self.key.digest,
            imports=tuple(i.render() for i in self.key.imports),
            pid=None if self.process is None else self.process.pid,
            state=WorkerState.STALE if self.stale and self.state is WorkerState.WARM else self.state,
            stale=self.stale,
            memory=self.memory,
            growth_mb=self.growth_mb,
            requests=self.requests,
            recycles=self.recycles,
            recycle_pending=self.recycle_reason,
            age_seconds=now - self.created,
            idle_seconds=now - self.last_used if self.state is WorkerState.WARM else 0.0,
            import_seconds=self.import_seconds,
            last_restart_reason=self.restart_reason,
        )

    async def start(self, timeout: float | None, address_space_mb: float | None = None) -> WorkerFailure | None:
        """Spawn, import the session's header (the process's first and only env-less command),
        then set Lake's options on that env."""
        key = self.key
        spawned = await ReplProcess.spawn(key.worker_command, key.project_root, address_space_mb=address_space_mb)
        if isinstance(spawned, WorkerFailure):
            return spawned
        self.process = spawned
        self.set_state(WorkerState.IMPORTING)
        began = time.monotonic()
        reply = await self._setup(Command(key.header_text()), timeout, "the header import")
        self.import_seconds = time.monotonic() - began
        if isinstance(reply, WorkerFailure):
            return reply
        if reply.errors:
            explained = explain_import_failure(_errors(reply), key.toolchain)
            return WorkerFailure(FailureKind.IMPORT_FAILED, f"the session's header does not elaborate: {explained}")
        self.envs.add(reply.env)
        return await self._set_options(reply.env, timeout)

    async def _setup(self, command: Command, timeout: float | None, what: str) -> CommandReply | WorkerFailure:
        """A command setting the session up: any answer but a command's is a failure."""
        assert self.process is not None
        reply = await self.process.request(command, timeout)
        if isinstance(reply, WorkerFailure | CommandReply):
            return reply
        return WorkerFailure(FailureKind.IMPORT_FAILED, f"{what} answered {reply.to_json()}")

    async def _set_options(self, env: int, timeout: float | None) -> WorkerFailure | None:
        """As Lean applies Lake's `-D` options after importing (`reparseOptions`): plain ones all
        at once (one Lean refuses fails the session, as it fails `lake build`), each `weak.` one
        on its own and only if the imports declare it; the resulting env is the session's."""
        plan = option_plan(self.key.options)
        applied: list[str] = []
        not_applied = list(plan.not_applied)
        steps: list[tuple[str, list[str], str | None]] = []
        if plan.together:
            steps.append((set_options(plan.together), [name for name, _ in plan.together], None))
        steps += [(set_options(((name, value),)), [written], written) for written, name, value in plan.weak]
        for text, names, weak in steps:
            reply = await self._setup(Command(text, env=env), timeout, "setting Lake's options")
            if isinstance(reply, WorkerFailure):
                return reply
            if reply.errors:
                detail = _errors(reply)
                if weak is None:
                    return WorkerFailure(FailureKind.IMPORT_FAILED, f"Lean refuses an option Lake passes: {detail}")
                not_applied.append((weak, f"the imports do not declare it, so Lean skips it ({detail})"))
                continue
            env = reply.env
            self.envs.add(env)
            applied.extend(names)
        self.base_env = env
        self.options = OptionsApplied(tuple(applied), tuple(not_applied))
        return None

    def bind(self, request: Request) -> Request | WorkerFailure:
        """Give env-less commands this session's env; refuse ids that belong to another process,
        and an env-less file: the REPL would elaborate its `import` lines as commands on this
        session's env and fail (the session already holds the file's header)."""
        if isinstance(request, FileCommand) and request.env is None:
            return WorkerFailure(
                FailureKind.INVALID_REQUEST,
                f"{request.path} has its own header: send its body as a command (it runs on this session's "
                "imports) or give an env explicitly",
            )
        if isinstance(request, Command | FileCommand):
            if request.env is None:
                assert self.base_env is not None
                return replace(request, env=self.base_env)
            if request.env not in self.envs:
                return WorkerFailure(FailureKind.INVALID_REQUEST, f"env {request.env} does not belong to this worker")
        elif isinstance(request, PickleEnvironment) and request.env not in self.envs:
            return WorkerFailure(FailureKind.INVALID_REQUEST, f"env {request.env} does not belong to this worker")
        elif isinstance(request, TacticStep | PickleProofState) and request.proof_state not in self.proof_states:
            return WorkerFailure(
                FailureKind.INVALID_REQUEST, f"proof state {request.proof_state} does not belong to this worker"
            )
        elif isinstance(request, UnpickleProofState) and request.env is not None and request.env not in self.envs:
            return WorkerFailure(FailureKind.INVALID_REQUEST, f"env {request.env} does not belong to this worker")
        return request

    async def run(self, request: Request, timeout: float | None) -> Reply | WorkerFailure:
        bound = self.bind(request)
        if isinstance(bound, WorkerFailure):
            return bound
        assert self.process is not None
        self.requests += 1
        reply = await self.process.request(bound, timeout)
        self.answered += 1
        if isinstance(reply, CommandReply):
            self.envs.add(reply.env)
            self.proof_states.update(s.proof_state for s in reply.sorries if s.proof_state is not None)
            self.proof_states.update(t.proof_state for t in reply.tactics if t.proof_state is not None)
        elif isinstance(reply, ProofStepReply):
            self.proof_states.add(reply.proof_state)
            self.proof_states.update(s.proof_state for s in reply.sorries if s.proof_state is not None)
        return reply


def _errors(reply: CommandReply) -> str:
    return "; ".join(m.data for m in reply.errors[:5])
