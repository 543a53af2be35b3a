"""Session keys: what a warm worker must have, so that equal keys can share one.

Two keys are equal exactly when a worker started for one can serve the
other. Everything that changes the Lean environment or the worker's
behaviour is in the key, by value: the imports in header order (duplicates
removed) with their `module`/`prelude`/`public`/`meta`/`all` flags, the
Lean options Lake passes, the capability target, the toolchain, the worker
protocol and command, and the restart policy's full content (by digest).
Keys are stable across runs: their digest is a hash of a canonical JSON
rendering, never of memory addresses or dict order.

Order matters: Lean imports modules in header order, and ties between
instances or simp lemmas of equal priority follow it, so `import A; import B`
and `import B; import A` are different sessions (on Mathlib's graph that is
7,919 header sessions instead of 7,904).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from ..lake.header import Import
from ..lake.options import LeanOptions

DIGEST_LENGTH = 16


class Profile(StrEnum):
    HEADER = "header"
    """The session imports the module's own header: to elaborate its body, or to answer
    a query "in the context of this file". Exact, never widened."""
    MODULE = "module"
    """The session has the module itself loaded: to query its declarations. A session
    importing S serves every module in the closure of S."""


class Strategy(StrEnum):
    EXACT = "exact"
    COVER = "cover"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When the pool replaces a worker. Every field is part of the session key (by digest):
    workers under different policies are never shared."""

    max_requests: int | None = None
    max_rss_mb: int | None = None
    idle_seconds: float | None = None
    max_restarts: int = 16
    restart_window_seconds: float = 60.0

    @property
    def digest(self) -> str:
        return _digest(asdict(self))[:DIGEST_LENGTH]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MetadataExpectation:
    """A Lean command whose output must equal `expected` (JSON) before a session is used."""

    command: str
    expected: str

    def to_json(self) -> dict[str, object]:
        return {"command": self.command, "expected": self.expected}


@dataclass(frozen=True, slots=True, eq=False)
class SessionKey:
    """Equality and hashing go by `full_digest`, a hash of every field: the same relation as
    comparing the fields, at the cost of one string comparison (keys are dictionary keys in
    every plan refresh)."""

    project_root: str
    package: str
    target: str | None
    """The Lake library whose build the worker must see (None for files outside any library)."""
    source_root: str
    is_module: bool
    prelude: bool
    imports: tuple[Import, ...]
    """In header order, duplicates removed; flags included, because they change the environment."""
    profile: Profile
    toolchain: str
    protocol: str
    restart_policy: str
    """Digest of the full `RestartPolicy`."""
    worker_command: tuple[str, ...]
    metadata: MetadataExpectation | None = None
    options: LeanOptions = ()
    """What Lake passes to Lean for the session's modules (`leanOptions`, `-D`; the Lake model's
    `LeanOptions`, sorted by name): set after the header's import, before any body."""
    full_digest: str = field(init=False, compare=False, repr=False)
    digest: str = field(init=False, compare=False, repr=False)
    """The session's name everywhere people and clients see one (`plan`, `check`, `status`,
    editors, the protocol's `sessionKey`): a digest of `environment()` alone, so one header
    shows as one session whether the command line, a simulated run or the daemon computed it.
    Keys that share it differ only in how their worker runs, which one daemon never varies."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "full_digest", _digest(self.canonical()))
        object.__setattr__(self, "digest", _digest(self.environment())[:DIGEST_LENGTH])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SessionKey) and other.full_digest == self.full_digest

    def __reduce__(self) -> tuple[Callable[[tuple[object, ...]], SessionKey], tuple[tuple[object, ...]]]:
        """Pickled with its digests (recomputing them costs ~40 µs a key; a stored Mathlib plan
        holds 8,000 keys), restored slot by slot (dataclass state goes through `fields()`)."""
        return (_restored_key, (tuple(getattr(self, name) for name in SessionKey.__slots__),))

    def __hash__(self) -> int:
        return hash(self.full_digest)

    def canonical(self) -> dict[str, object]:
        return {
            "project_root": self.project_root,
            "package": self.package,
            "target": self.target,
            "source_root": self.source_root,
            "module": self.is_module,
            "prelude": self.prelude,
            "imports": [i.to_json() for i in self.imports],
            "profile": str(self.profile),
            "toolchain": self.toolchain,
            "protocol": self.protocol,
            "restart_policy": self.restart_policy,
            "worker_command": list(self.worker_command),
            "metadata": None if self.metadata is None else self.metadata.to_json(),
            "options": [[name, value] for name, value in self.options],
        }

    def environment(self) -> dict[str, object]:
        """The fields that decide the Lean environment a body is elaborated in. The toolchain
        counts by its `lean-toolchain` spec, not by the version a `lean --version` query added."""
        env = self.canonical()
        for worker_only in ("protocol", "restart_policy", "worker_command", "metadata"):
            del env[worker_only]
        env["toolchain"] = self.toolchain.partition("|")[0]
        return env

    def header_text(self) -> str:
        """The header a worker sends as its first (env-less) command."""
        lines = (["module"] if self.is_module else []) + (["prelude"] if self.prelude else [])
        return "\n".join(lines + [i.render() for i in self.imports]) + "\n"

    def to_json(self) -> dict[str, object]:
        return {"digest": self.digest, **self.canonical()}


def _restored_key(values: tuple[object, ...]) -> SessionKey:
    key = object.__new__(SessionKey)
    for name, value in zip(SessionKey.__slots__, values, strict=True):
        object.__setattr__(key, name, value)
    return key


def header_imports(imports: tuple[Import, ...] | list[Import]) -> tuple[Import, ...]:
    """Imports in header order, exact duplicates removed (a second `import A` adds nothing to the
    environment), positions dropped: `[A, B]` and `[B, A]` are two keys."""
    seen: set[Import] = set()
    out: list[Import] = []
    for i in imports:
        bare = Import(i.module, i.public, i.meta, i.all)
        if bare not in seen:
            seen.add(bare)
            out.append(bare)
    return tuple(out)
