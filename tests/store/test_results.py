"""The result cache: an outcome is answered from the store only while nothing it depends on changed
(soundness), and always then (completeness); only definitive outcomes are kept."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.engine import Engine, EngineConfig
from lean_batchd.engine.checking import CheckReport, EngineTarget, check_sessions, plan_sessions
from lean_batchd.engine.outcome import FileOutcome, FileStatus
from lean_batchd.engine.values import EngineError
from lean_batchd.store import results
from lean_batchd.store.database import StoreDatabase
from lean_batchd.workers.pool import PoolConfig
from tests.conftest import write_tree
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

MODULES = ["P.A", "P.B", "P.C", "P.D"]
LIB = '[[lean_lib]]\nname = "P"\nglobs = ["P.+"]\n'
OPTION = "leanOptions = { autoImplicit = false }\n"


def wrapper(root: Path, version: int) -> Path:
    """The REPL "binary": a script running the SIMULATED REPL, rewritten to stand for a rebuild."""
    path = root.parent / f"{root.name}-repl"
    path.write_text(f'#!/bin/sh\n# build {version}\nexec {sys.executable} -m lean_batchd.testing.repl "$@"\n')
    path.chmod(0o755)
    return path


def config(repl: Path, **changes: Any) -> EngineConfig:
    base = EngineConfig(
        pool=PoolConfig(max_workers=2),
        worker_command=(str(repl),),
        simulated=True,
        watch=False,
        verify_interval=None,
        prewarm_on_open=False,
    )
    return replace(base, **changes)


def check_all(root: Path, engine_config: EngineConfig, build_check: bool = False) -> dict[str, FileOutcome]:
    files = sorted(str(p) for p in (root / "P").glob("*.lean"))

    async def main() -> CheckReport:
        engine = Engine(engine_config)
        try:
            target = EngineTarget(engine, build_check=build_check)
            sessions = await plan_sessions(target, files, True)
            assert not isinstance(sessions, EngineError)
            report = await check_sessions(target, sessions, 2, True)
            assert isinstance(report, CheckReport), report
            return report
        finally:
            await engine.close()

    return {o.path: o for o in asyncio.run(main()).outcomes}


def module_file(root: Path, name: str) -> Path:
    return root / (name.replace(".", "/") + ".lean")


def inputs(root: Path, name: str, repl_build: int) -> tuple[str, ...]:
    """What an outcome depends on, found independently of lean-batchd: the file, the files its
    imports reach (read from the `import` lines), the lakefile, the toolchain, the REPL build
    (a binary written again is another build, whatever it holds)."""
    seen, stack = set(), [name]
    while stack:
        current = stack.pop()
        if current in seen or not module_file(root, current).exists():
            continue
        seen.add(current)
        stack.extend(re.findall(r"^import (\S+)", module_file(root, current).read_text(), re.M))
    texts = tuple(f"{n}\n{module_file(root, n).read_text()}" for n in sorted(seen))
    return (*texts, (root / "lakefile.toml").read_text(), (root / "lean-toolchain").read_text(), str(repl_build))


def make_project(root: Path) -> None:
    write_tree(
        root,
        {
            "lakefile.toml": 'name = "p"\n' + LIB,
            "lean-toolchain": "leanprover/lean4:v4.22.0\n",
            "P/A.lean": "def a := 1\n",
            "P/B.lean": "import P.A\n\ndef b := a\n",
            "P/C.lean": "import P.B\n\ntheorem c : True := trivial\n",
            "P/D.lean": "import P.A\n\ndef d := 2\n",
        },
    )


_edit = st.one_of(
    st.tuples(st.just("body"), st.sampled_from(MODULES), st.sampled_from(["-- note\n", "-- sim:error\n", ""])),
    st.tuples(st.just("header"), st.sampled_from(MODULES), st.lists(st.sampled_from(MODULES), max_size=2)),
    st.tuples(st.just("touch"), st.sampled_from(MODULES)),
    st.tuples(st.just("option"), st.booleans()),
    st.tuples(st.just("toolchain"), st.sampled_from(["v4.22.0", "v4.23.0"])),
    st.tuples(st.just("repl"), st.integers(0, 2)),
)


def edit(root: Path, op: tuple[Any, ...], state: dict[str, Any]) -> None:
    kind = op[0]
    if kind in ("body", "header"):
        path = module_file(root, op[1])
        text = path.read_text()
        head, _, body = text.partition("\n\n") if text.startswith("import") else ("", "", text)
        if kind == "body":
            body = re.sub(r"-- .*\n", "", body) + op[2]
        else:
            head = "".join(f"import {m}\n" for m in op[2] if m != op[1]).rstrip("\n")
        path.write_text(f"{head}\n\n{body}" if head else body)
    elif kind == "touch":
        path = module_file(root, op[1])
        st_ = path.stat()
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 5_000_000_000))
    elif kind == "option":
        (root / "lakefile.toml").write_text('name = "p"\n' + LIB + (OPTION if op[1] else ""))
    elif kind == "toolchain":
        (root / "lean-toolchain").write_text(f"leanprover/lean4:{op[1]}\n")
    else:
        state["repl"] = wrapper(root, op[1])
        state["build"] += 1


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_edit, min_size=1, max_size=5))
def test_a_cached_outcome_is_served_exactly_while_its_inputs_are_unchanged(ops: list[tuple[Any, ...]]) -> None:
    """Soundness: after random edits (a module's body or header, a file in its closure, a lakefile
    option, the toolchain, the REPL binary), no outcome comes from the store unless every input
    it depends on is as it was when that outcome was stored. Completeness: every outcome whose
    inputs are as at its latest store does come from it (a `touch` changes nothing Lean reads)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve() / "proj"
        make_project(root)
        state: dict[str, Any] = {"repl": wrapper(root, 0), "build": 0}
        stored: dict[str, set[tuple[str, ...]]] = {}
        latest: dict[str, tuple[str, ...]] = {}
        for op in [("touch", "P.A"), *ops]:
            edit(root, op, state)
            outcomes = check_all(root, config(state["repl"]))
            for name in MODULES:
                outcome = outcomes[str(module_file(root, name))]
                now = inputs(root, name, state["build"])
                if outcome.cached:
                    assert now in stored.get(name, set()), (op, name, "served an outcome whose inputs changed")
                else:
                    assert latest.get(name) != now, (op, name, "elaborated again though nothing changed")
                    assert outcome.status in (FileStatus.OK, FileStatus.ERRORS)
                    stored.setdefault(name, set()).add(now)
                    latest[name] = now


def test_a_second_run_answers_every_outcome_from_the_store(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_project(root)
    (root / "P/D.lean").write_text("import P.A\n\ndef d := 2\n-- sim:error\n")
    repl = wrapper(root, 0)
    first = check_all(root, config(repl))
    second = check_all(root, config(repl))
    assert not any(o.cached for o in first.values()) and all(o.cached for o in second.values())
    assert all(second[p].same_result(first[p]) for p in first)
    assert second[str(root / "P/D.lean")].status is FileStatus.ERRORS
    assert not any(o.cached for o in check_all(root, config(repl, result_cache=False)).values())


def test_only_definitive_outcomes_are_stored(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_project(root)
    (root / "P/A.lean").write_text("def a := 1\n-- sim:crash\n")
    (root / "P/B.lean").write_text("import P.A\n\ndef b := a\n-- sim:hang\n")
    repl = wrapper(root, 0)

    async def main() -> list[FileOutcome | EngineError]:
        engine = Engine(config(repl))
        try:
            return [
                await engine.check(str(root / "P/A.lean"), None, False),
                await engine.check(str(root / "P/B.lean"), 0.5, False),
                await engine.check(str(root / "P/C.lean"), None, False),
            ]
        finally:
            await engine.close()

    first = asyncio.run(main())
    second = asyncio.run(main())
    assert [o.status for o in first if isinstance(o, FileOutcome)] == [
        FileStatus.CRASHED,
        FileStatus.TIMEOUT,
        FileStatus.OK,
    ]
    assert [o.cached for o in second if isinstance(o, FileOutcome)] == [False, False, True]


def test_build_first_and_unchecked_builds_are_never_stored_for_lean(tmp_path: Path) -> None:
    """Against Lean, an outcome checked without the build check may come from stale `.olean` files:
    it is neither answered nor stored. (The SIMULATED REPL loads no `.olean`.)"""
    root = tmp_path / "proj"
    make_project(root)
    repl = wrapper(root, 0)
    lean = config(repl, simulated=False)
    assert not any(o.cached for o in check_all(root, lean).values())
    assert not any(o.cached for o in check_all(root, lean).values())
    checked = check_all(root, lean, build_check=True)  # nothing is built here: build first, not stored
    again = check_all(root, lean, build_check=True)
    assert {p: o.status for p, o in checked.items()} == {p: o.status for p, o in again.items()}
    assert {p: o.cached for p, o in again.items()} == {
        str(root / "P/A.lean"): True,  # imports nothing, so nothing to build: checked, and stored
        **{str(root / f"P/{m}.lean"): False for m in "BCD"},
    }
    assert all(o.status is FileStatus.BUILD_FIRST for p, o in again.items() if not p.endswith("A.lean"))


def test_simulated_outcomes_never_answer_a_lean_run(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_project(root)
    (root / "P/A.lean").write_text("def a := 1\n")
    repl = wrapper(root, 0)
    check_all(root, config(repl))
    assert all(o.cached for o in check_all(root, config(repl)).values())

    async def lean_run() -> FileOutcome | EngineError:
        engine = Engine(config(repl, simulated=False))
        try:
            return await engine.check(str(root / "P/A.lean"), None, True)  # P.A imports nothing: no build needed
        finally:
            await engine.close()

    outcome = asyncio.run(lean_run())
    assert isinstance(outcome, FileOutcome) and not outcome.cached


def test_the_store_keeps_at_most_its_limit_of_outcomes_the_most_recently_used(tmp_path: Path, monkeypatch: Any) -> None:
    """One path per distinct snippet text: an agent's loop must not grow the store without bound."""
    monkeypatch.setattr(results, "MAX_OUTCOMES", 3)
    store = results.ResultStore(StoreDatabase(tmp_path / "store"), "test")
    keys = [results.ResultKey(f"{i:064x}", results.SIMULATED, f"/snippet/{i}.lean", {}) for i in range(6)]
    for key in keys:
        assert store.put(key, {"status": "ok"})
    assert store.get(keys[0]) is not None  # used again: among the most recent now
    store.flush()
    with sqlite3.connect(store.database.path) as conn:
        kept = {row[0] for row in conn.execute("SELECT key FROM results")}
    assert kept == {keys[0].digest, keys[4].digest, keys[5].digest}
