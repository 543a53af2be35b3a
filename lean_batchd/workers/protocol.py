"""The Lean REPL's protocol (leanprover-community/repl), as values.

Facts honoured (from the REPL's `REPL/Main.lean`): a request is one
JSON object followed by a blank line, sent compact (a raw newline inside a
string is deleted by the REPL); a reply is pretty-printed JSON followed by a
blank line; an error is exactly `{"message": ...}`; a malformed or unmatched
request kills the REPL, so requests are validated before they are sent.
Replies keep every field: unknown keys land in `extra`, and `to_json()`
gives back what was parsed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

INFOTREE_MODES = ("full", "tactics", "original", "substantive")


class ProtocolError(ValueError):
    """A request the REPL would die on, refused before sending; or a reply that is not one."""


# -- requests --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    cmd: str
    env: int | None = None
    all_tactics: bool = False
    root_goals: bool = False
    infotree: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cmd": self.cmd}
        return _options(out, self.env, self.all_tactics, self.root_goals, self.infotree)


@dataclass(frozen=True, slots=True)
class FileCommand:
    path: str
    env: int | None = None
    all_tactics: bool = False
    root_goals: bool = False
    infotree: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _options({"path": self.path}, self.env, self.all_tactics, self.root_goals, self.infotree)


@dataclass(frozen=True, slots=True)
class TacticStep:
    tactic: str
    proof_state: int

    def to_json(self) -> dict[str, Any]:
        return {"tactic": self.tactic, "proofState": self.proof_state}


@dataclass(frozen=True, slots=True)
class PickleEnvironment:
    pickle_to: str
    env: int

    def to_json(self) -> dict[str, Any]:
        return {"pickleTo": self.pickle_to, "env": self.env}


@dataclass(frozen=True, slots=True)
class PickleProofState:
    pickle_to: str
    proof_state: int

    def to_json(self) -> dict[str, Any]:
        return {"pickleTo": self.pickle_to, "proofState": self.proof_state}


@dataclass(frozen=True, slots=True)
class UnpickleEnvironment:
    unpickle_env_from: str

    def to_json(self) -> dict[str, Any]:
        return {"unpickleEnvFrom": self.unpickle_env_from}


@dataclass(frozen=True, slots=True)
class UnpickleProofState:
    unpickle_proof_state_from: str
    env: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"unpickleProofStateFrom": self.unpickle_proof_state_from}
        if self.env is not None:
            out["env"] = self.env
        return out


Request = (
    Command | FileCommand | TacticStep | PickleEnvironment | PickleProofState | UnpickleEnvironment | UnpickleProofState
)


def _options(
    out: dict[str, Any], env: int | None, all_tactics: bool, root_goals: bool, infotree: str | None
) -> dict[str, Any]:
    if env is not None:
        out["env"] = env
    if all_tactics:
        out["allTactics"] = True
    if root_goals:
        out["rootGoals"] = True
    if infotree is not None:
        out["infotree"] = infotree
    return out


def _nat(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{what} must be a natural number, not {value!r}")
    return value


def validate(request: Request) -> None:
    """Refuse what would kill the REPL (it dies on any request it cannot decode)."""
    if isinstance(request, Command | FileCommand):
        text = request.cmd if isinstance(request, Command) else request.path
        if not isinstance(text, str):
            raise ProtocolError("cmd/path must be a string")
        if request.env is not None:
            _nat(request.env, "env")
        if request.infotree is not None and request.infotree not in INFOTREE_MODES:
            raise ProtocolError(f"infotree must be one of {', '.join(INFOTREE_MODES)}")
    elif isinstance(request, TacticStep | PickleProofState):
        _nat(request.proof_state, "proofState")
    elif isinstance(request, PickleEnvironment | UnpickleProofState) and request.env is not None:
        _nat(request.env, "env")


def encode(request: Request) -> bytes:
    """Compact JSON and a blank line: newlines inside strings travel escaped."""
    validate(request)
    return json.dumps(request.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"


def request_from_json(obj: object) -> Request:
    """Decode a request the way the REPL's dispatcher does (proof step first, command before file)."""
    if not isinstance(obj, dict):
        raise ProtocolError("a request is a JSON object")
    env, infotree = obj.get("env"), obj.get("infotree")
    all_tactics, root_goals = bool(obj.get("allTactics", False)), bool(obj.get("rootGoals", False))
    request: Request
    if "tactic" in obj and "proofState" in obj:
        request = TacticStep(obj["tactic"], obj["proofState"])
    elif "pickleTo" in obj and "env" in obj:
        request = PickleEnvironment(obj["pickleTo"], obj["env"])
    elif "unpickleEnvFrom" in obj:
        request = UnpickleEnvironment(obj["unpickleEnvFrom"])
    elif "pickleTo" in obj and "proofState" in obj:
        request = PickleProofState(obj["pickleTo"], obj["proofState"])
    elif "unpickleProofStateFrom" in obj:
        request = UnpickleProofState(obj["unpickleProofStateFrom"], obj.get("env"))
    elif "cmd" in obj:
        request = Command(obj["cmd"], env, all_tactics, root_goals, infotree)
    elif "path" in obj:
        request = FileCommand(obj["path"], env, all_tactics, root_goals, infotree)
    else:
        raise ProtocolError(f"not a REPL request: keys {sorted(obj)}")
    validate(request)
    return request


# -- replies ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pos:
    """Line 1-based, column 0-based, relative to the text sent."""

    line: int
    column: int

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}


def _pos(value: Any) -> Pos | None:
    if isinstance(value, dict) and isinstance(value.get("line"), int) and isinstance(value.get("column"), int):
        return Pos(value["line"], value["column"])
    return None


def _put_pos(out: dict[str, Any], key: str, pos: Pos | None, present: bool) -> None:
    if present:
        out[key] = None if pos is None else pos.to_json()


@dataclass(frozen=True, slots=True)
class Message:
    severity: str
    """`info`, `warning` or `error` (`trace` exists in the REPL's enum but is never sent)."""
    pos: Pos | None
    end_pos: Pos | None
    data: str
    raw: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Message:
        return cls(
            str(obj.get("severity", "")), _pos(obj.get("pos")), _pos(obj.get("endPos")), str(obj.get("data", "")), obj
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True, slots=True)
class Sorry:
    goal: str
    proof_state: int | None
    pos: Pos | None
    end_pos: Pos | None
    raw: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Sorry:
        ps = obj.get("proofState")
        return cls(
            str(obj.get("goal", "")),
            ps if isinstance(ps, int) else None,
            _pos(obj.get("pos")),
            _pos(obj.get("endPos")),
            obj,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True, slots=True)
class TacticInfo:
    tactic: str
    goals: str
    proof_state: int | None
    pos: Pos | None
    end_pos: Pos | None
    used_constants: tuple[str, ...]
    raw: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TacticInfo:
        ps = obj.get("proofState")
        return cls(
            str(obj.get("tactic", "")),
            str(obj.get("goals", "")),
            ps if isinstance(ps, int) else None,
            _pos(obj.get("pos")),
            _pos(obj.get("endPos")),
            tuple(str(c) for c in obj.get("usedConstants", ()) or ()),
            obj,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)


_COMMAND_KEYS = frozenset({"env", "messages", "sorries", "tactics", "infotree"})
_PROOF_KEYS = frozenset({"proofState", "goals", "proofStatus", "messages", "sorries", "traces"})


@dataclass(frozen=True, slots=True)
class CommandReply:
    env: int
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    tactics: tuple[TacticInfo, ...] = ()
    infotree: Any = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.severity == "error")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["env"] = self.env
        if self.messages:
            out["messages"] = [m.to_json() for m in self.messages]
        if self.sorries:
            out["sorries"] = [s.to_json() for s in self.sorries]
        if self.tactics:
            out["tactics"] = [t.to_json() for t in self.tactics]
        if self.infotree is not None:
            out["infotree"] = self.infotree
        return out


@dataclass(frozen=True, slots=True)
class ProofStepReply:
    proof_state: int
    goals: tuple[str, ...]
    proof_status: str | None = None
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    traces: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["proofState"] = self.proof_state
        out["goals"] = list(self.goals)
        if self.proof_status is not None:
            out["proofStatus"] = self.proof_status
        if self.messages:
            out["messages"] = [m.to_json() for m in self.messages]
        if self.sorries:
            out["sorries"] = [s.to_json() for s in self.sorries]
        if self.traces:
            out["traces"] = list(self.traces)
        return out


@dataclass(frozen=True, slots=True)
class ReplError:
    """The REPL's error shape, exactly `{"message": ...}`: a value, not a crash."""

    message: str

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message}


Reply = CommandReply | ProofStepReply | ReplError


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_reply(obj: object) -> Reply:
    """A reply object as a typed value; anything unexpected is a `ProtocolError`."""
    if not isinstance(obj, dict):
        raise ProtocolError(f"a reply is a JSON object, not {type(obj).__name__}")
    if set(obj) == {"message"}:
        return ReplError(str(obj["message"]))
    if "proofState" in obj and "goals" in obj and "env" not in obj:
        goals = obj.get("goals")
        traces = obj.get("traces")
        status = obj.get("proofStatus")
        return ProofStepReply(
            proof_state=int(obj["proofState"]),
            goals=tuple(str(g) for g in goals) if isinstance(goals, list) else (),
            proof_status=str(status) if status is not None else None,
            messages=tuple(Message.from_json(m) for m in _list(obj, "messages")),
            sorries=tuple(Sorry.from_json(s) for s in _list(obj, "sorries")),
            traces=tuple(str(t) for t in traces) if isinstance(traces, list) else (),
            extra={k: v for k, v in obj.items() if k not in _PROOF_KEYS},
        )
    if isinstance(obj.get("env"), int):
        return CommandReply(
            env=obj["env"],
            messages=tuple(Message.from_json(m) for m in _list(obj, "messages")),
            sorries=tuple(Sorry.from_json(s) for s in _list(obj, "sorries")),
            tactics=tuple(TacticInfo.from_json(t) for t in _list(obj, "tactics")),
            infotree=obj.get("infotree"),
            extra={k: v for k, v in obj.items() if k not in _COMMAND_KEYS},
        )
    raise ProtocolError(f"unrecognised reply with keys {sorted(obj)}")


class ReplyFramer:
    """Splits the REPL's output stream into replies: JSON text up to a blank line."""

    def __init__(self) -> None:
        self._lines: list[bytes] = []

    def feed_line(self, line: bytes) -> Reply | None:
        """Give one line (with or without its newline); returns a reply when one is complete."""
        if line.strip():
            self._lines.append(line)
            return None
        if not self._lines:
            return None
        text = b"".join(self._lines)
        self._lines = []
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise ProtocolError(f"reply is not JSON: {text[:200]!r}") from e
        return parse_reply(obj)

    @property
    def pending(self) -> bytes:
        return b"".join(self._lines)
