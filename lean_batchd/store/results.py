"""The result cache: a file's definitive outcome, answered again without Lean while nothing it
depends on has changed.

The key is a digest over everything the outcome depends on (see `result_key`);
the value is the outcome as JSON. The engine decides what is definitive and what
a key covers; this module keeps them: one row per key, the last
`KEEP_PER_PATH` keys of each file, nothing unused for `FORGET_AFTER_DAYS`, at
most `MAX_OUTCOMES` in all, and per run the hits and misses `cache info` reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from .database import StoreDatabase, now_ns

RESULT_FORMAT = 1
"""Bumped whenever what a key covers or how an outcome is rendered changes (sccache's CACHE_VERSION)."""
KEEP_PER_PATH = 4
"""Keys kept per file and namespace: switching branches back and forth still hits."""
FORGET_AFTER_DAYS = 30
MAX_OUTCOMES = 50_000
"""Outcomes kept per project, the most recently used: an agent's snippets (one path per distinct
text, `engine.snippets`) would otherwise grow the store without bound until they age out."""
KEEP_RUNS = 100
FLUSH_SECONDS = 10.0

LEAN = "lean"
SIMULATED = "simulated"
"""Outcomes of the SIMULATED REPL live in a namespace of their own: never served to a Lean run."""


@dataclass(frozen=True, slots=True)
class ResultKey:
    digest: str
    namespace: str
    path: str
    parts: dict[str, object] = field(compare=False, repr=False)
    """What went into the digest (for tests and `--explain`-style debugging)."""


def result_key(
    *,
    namespace: str,
    path: str,
    session: str,
    text: str,
    imports: Sequence[tuple[str, str]],
    program: str,
    config: str,
) -> ResultKey:
    """The key of checking the file at `path` whose text is `text`:

    - `session`: the session key's full digest: the environment (imports with their flags,
      `module`/`prelude`, library, package, project root, toolchain, and whatever else the
      session key holds, such as Lake options) and the worker (command, protocol, restart
      policy), so a file is never answered from another environment;
    - `text`: the digest of the exact text elaborated (an unsaved buffer's, in an editor);
    - `imports`: each import's closure digest (its content and everything it imports,
      transitively), or its name for modules outside the model (core Lean: the toolchain
      in `session` stands for them), because Lean elaborates against what they contain;
    - `program`: the identity of the worker's programs (the REPL binary, `lake`), which the
      same path can hold another build of;
    - `config`: the digest of the lakefiles, manifest and toolchain file of the workspace
      (options of the libraries an import belongs to shape its `.olean`);
    - `path`, `namespace`, the lean-batchd version and `RESULT_FORMAT`: the outcome names
      the path, simulated outcomes never answer a Lean run, and another renderer of outcomes
      never answers for this one.
    """
    parts: dict[str, object] = {
        "format": RESULT_FORMAT,
        "version": __version__,
        "namespace": namespace,
        "path": path,
        "session": session,
        "text": hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest(),
        "imports": [list(i) for i in imports],
        "program": program,
        "config": config,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return ResultKey(digest, namespace, path, parts)


class ResultStore:
    """Outcomes of one project, and this process's hits and misses (one `runs` row per process
    and namespace, written by `flush`)."""

    def __init__(self, database: StoreDatabase, command: str) -> None:
        self.database = database
        self.command = command
        self._counts: dict[str, list[int]] = {}
        """namespace -> [hits, misses, stored]"""
        self._used: list[str] = []
        self._runs: dict[str, int] = {}
        """namespace -> this process's `runs` row id"""
        self._started = now_ns()
        self._flushed = time.monotonic()

    def due(self) -> bool:
        """Has this process counted something not recorded for `FLUSH_SECONDS` (a daemon runs long)?"""
        return bool(self._counts) and time.monotonic() - self._flushed > FLUSH_SECONDS

    def get(self, key: ResultKey) -> dict[str, Any] | None:
        row = self.database.read("results", key.digest)
        counts = self._counts.setdefault(key.namespace, [0, 0, 0])
        if row is None:
            counts[1] += 1
            return None
        try:
            doc = json.loads(row.data.decode("utf-8", "surrogateescape"))  # as `put` encoded it
        except ValueError:
            counts[1] += 1
            return None
        counts[0] += 1
        self._used.append(key.digest)
        return doc if isinstance(doc, dict) else None

    def put(self, key: ResultKey, doc: dict[str, Any]) -> bool:
        data = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogateescape")
        now = now_ns()
        prune = (
            "DELETE FROM results WHERE namespace = :namespace AND path = :path AND key NOT IN "
            "(SELECT key FROM results WHERE namespace = :namespace AND path = :path "
            f"ORDER BY used_ns DESC LIMIT {KEEP_PER_PATH})"
        )
        # A name that is not UTF-8 (its bytes kept as surrogates) cannot be bound as SQLite text as it is.
        shown = key.path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        columns = {"namespace": key.namespace, "path": shown, "written_ns": now, "used_ns": now}
        stored = self.database.write("results", key.digest, data, columns, prune)
        if stored:
            self._counts.setdefault(key.namespace, [0, 0, 0])[2] += 1
        return stored

    def flush(self) -> None:
        """Record this process's counts and the keys it used (so they are kept), and forget what
        nobody used for `FORGET_AFTER_DAYS` and the least recently used beyond `MAX_OUTCOMES`."""
        used, self._used = self._used, []
        self._flushed = time.monotonic()
        now = now_ns()
        statements: list[tuple[str, Any]] = [("UPDATE results SET used_ns = ? WHERE key = ?", (now, k)) for k in used]
        for namespace, (hits, misses, stored) in self._counts.items():
            run = self._runs.get(namespace)
            if run is None:
                run = self._runs[namespace] = self._new_run(namespace)
            if run >= 0:
                statements.append(
                    ("UPDATE runs SET hits = ?, misses = ?, stored = ? WHERE id = ?", (hits, misses, stored, run))
                )
        forget = now - FORGET_AFTER_DAYS * 86_400 * 1_000_000_000
        statements.append(("DELETE FROM results WHERE used_ns < ?", (forget,)))
        statements.append(
            (
                "DELETE FROM results WHERE used_ns < "
                "(SELECT used_ns FROM results ORDER BY used_ns DESC LIMIT 1 OFFSET ?)",
                (MAX_OUTCOMES - 1,),
            )
        )
        statements.append(
            ("DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)", (KEEP_RUNS,))
        )
        self.database.transaction(statements, "recording a run")

    def _new_run(self, namespace: str) -> int:
        insert = (
            "INSERT INTO runs (started_ns, pid, command, namespace, hits, misses, stored) VALUES (?, ?, ?, ?, 0, 0, 0)"
        )
        if not self.database.transaction([(insert, (self._started, os.getpid(), self.command, namespace))], "a run"):
            return -1
        found = self.database.query(
            "SELECT max(id) FROM runs WHERE pid = ? AND started_ns = ? AND namespace = ?",
            (os.getpid(), self._started, namespace),
        )
        return int(found[0][0]) if found and found[0][0] is not None else -1

    def close(self) -> None:
        if any(sum(c) for c in self._counts.values()) or self._used:
            self.flush()


def process_command() -> str:
    """How this process was started, as `cache info` shows a run (`check`, `serve`, ...)."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    return args[0] if args else os.path.basename(sys.argv[0] or "python")
