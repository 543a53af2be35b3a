"""What the project's store saves (issue 15): second runs, daemon restarts, cached checks, start-up.

Every figure is wall time of real command-line processes (or of the real daemon over its
socket), best of `--repeat` unless said otherwise, against a private XDG_CACHE_HOME:

  (a) start-up: `lean-batchd --version` and `discover examples/demo` (store warm), next to
      `python -c pass` on the same machine
  (b) the Mathlib-shaped tree: the walk-and-read-headers baseline (in this process), then
      `discover` and `plan` as first runs (empty store) and as second runs (nothing changed),
      and `check` of one folder again with every outcome cached
  (c) a daemon restart: from starting `serve` to its first `moduleInfo` answer on the tree, with
      an empty store and with the store the previous daemon left
  (d) `check` of a generated workload (400 files over 40 headers, SIMULATED REPL with a 0.48 s
      import): first run, second run with nothing changed (every outcome cached and equal to
      the first), after a body edit of one file, after a header edit of a module 10 files import

  python benchmarks/store.py [--repeat 5] [--files 400] [--headers 40] [--import-seconds 0.48] [--skip-mathlib]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from daemon import RawClient
from discovery import _walk
from machine import machine

from lean_batchd.testing.workload import generate_workload

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "lean_batchd"]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode in (0, 1), (argv, done.stderr[-2000:])
    return elapsed, done


def best(times: list[float]) -> str:
    return f"{min(times) * 1000:7.0f} ms (median {statistics.median(times) * 1000:.0f})"


def startup(env: dict[str, str], repeat: int, tmp: Path) -> None:
    demo = tmp / "demo"
    shutil.copytree(ROOT / "examples/demo", demo, ignore=shutil.ignore_patterns(".lake"))
    timed([*CLI, "discover", str(demo)], env)
    rows: list[tuple[str, Callable[[], float]]] = [
        ("python -c pass", lambda: timed([sys.executable, "-c", "pass"], env)[0]),
        ("lean-batchd --version", lambda: timed([*CLI, "--version"], env)[0]),
        ("discover examples/demo", lambda: timed([*CLI, "discover", str(demo)], env)[0]),
    ]
    print("(a) start-up (goal: --version and discover examples/demo within 150 ms)")
    for name, run in rows:
        print(f"    {name:<26} {best([run() for _ in range(max(repeat, 10))])}")


def mathlib(env: dict[str, str], repeat: int, tmp: Path) -> Path:
    from lean_batchd.testing.mathlib_tree import generate

    root = tmp / "mathlib4"
    generate(root)
    time.sleep(1.5)  # files older than the racy window, as real files are
    baseline = min(_timed_walk(root) for _ in range(repeat))
    walk = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            f"from discovery import _walk; _walk({str(root)!r}, False)"]  # fmt: skip
    process = min(timed(walk, env)[0] for _ in range(repeat))
    stdlib = [sys.executable, "-c", "import argparse, dataclasses, hashlib, json, logging, pathlib, pickle, sqlite3"]
    floor = min(timed(stdlib, env)[0] for _ in range(max(repeat, 10)))
    print(
        f"(b) Mathlib-shaped tree: baseline (walk, read each header) {baseline * 1000:.0f} ms in this process, "
        f"{process * 1000:.0f} ms as a process of its own; a Python that only imports the standard modules "
        f"a remembered answer needs: {floor * 1000:.0f} ms"
    )
    for command in ("discover", "plan"):
        first = []
        for _ in range(min(repeat, 3)):
            timed([*CLI, "cache", "clear", str(root)], env)
            first.append(timed([*CLI, command, str(root)], env)[0])
        again = [timed([*CLI, command, str(root)], env)[0] for _ in range(repeat)]
        no_store = min(timed([*CLI, command, str(root), "--no-store"], env)[0] for _ in range(min(repeat, 3)))
        print(
            f"    {command:<8} first run {min(first):6.2f} s (without the store {no_store:.2f} s); "
            f"second run {min(again):6.2f} s = {min(again) / baseline:.1f}x baseline (goal 1.5x)"
        )
    answer_phases(root, env, repeat)
    folder = [*CLI, "check", str(root / "Mathlib/Order"), "--simulate", "--sim-import-seconds", "0.05", "--no-daemon"]
    first_check = timed([*folder, "-q"], env)[0]
    cached = min(timed([*folder, "-q"], env)[0] for _ in range(repeat))
    print(
        f"    check Mathlib/Order (313 files): first run {first_check:.2f} s, again with every outcome cached {cached:.2f} s"
    )
    return root


PHASES = """
import json, os, pickle, sys, time
t0 = time.perf_counter()
import lean_batchd.cli
t1 = time.perf_counter()
from lean_batchd.lake.inputs import inputs_unchanged
from lean_batchd.store.answers import _where
from lean_batchd.store.database import StoreDatabase
t2 = time.perf_counter()
root = sys.argv[1]
where = _where(root, ("discover", "False", os.path.abspath(root)))
database = StoreDatabase(where[0])
row = database.read("answers", where[1])
inputs, answer = pickle.loads(row.data)
t3 = time.perf_counter()
assert inputs_unchanged(inputs)
t4 = time.perf_counter()
print(json.dumps([len(inputs.stats), t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
"""
"""A remembered `discover`, phase by phase, in a process of its own (what `_answered` does)."""


def answer_phases(root: Path, env: dict[str, str], repeat: int) -> None:
    timed([*CLI, "discover", str(root)], env)  # remembered (clearing the store for `plan` forgot it)
    runs = [json.loads(timed([sys.executable, "-c", PHASES, str(root)], env)[1].stdout) for _ in range(repeat)]
    count, *phases = min(runs, key=lambda r: sum(r[1:]))
    names = ("importing the command line", "the store's reader", "reading the answer", f"{count:,} stats")
    print(
        "    a remembered discover inside: "
        + ", ".join(f"{n} {t * 1000:.0f} ms" for n, t in zip(names, phases, strict=True))
    )


def _timed_walk(root: Path) -> float:
    started = time.perf_counter()
    _walk(str(root), False)
    return time.perf_counter() - started


def daemon_restart(env: dict[str, str], root: Path, tmp: Path, repeat: int) -> None:
    target = next((root / "Mathlib/Order").glob("*.lean"))
    figures: dict[str, list[float]] = {"empty store": [], "stored model": []}
    for label in figures:
        for _ in range(repeat if label == "stored model" else min(repeat, 2)):
            if label == "empty store":
                timed([*CLI, "cache", "clear", str(root)], env)
            sock = tmp / "d.sock"
            started = time.perf_counter()
            daemon = subprocess.Popen(
                [*CLI, "serve", "--listen", f"unix:{sock}", "--simulate", "--no-prewarm"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            )  # fmt: skip
            try:
                while not sock.exists():
                    time.sleep(0.005)
                client = RawClient(sock, root)
                client.request("$/leanBatchd/moduleInfo", {"textDocument": {"uri": target.as_uri()}})
                figures[label].append(time.perf_counter() - started)
                client.request("shutdown")
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)
    floor = [sys.executable, "-c", "import asyncio, pygls.lsp.server, pygls.protocol"]
    print("(c) daemon restart to its first moduleInfo answer (goal 0.5 s with the stored model)")
    print(
        f"    floor: a Python that imports asyncio and pygls, nothing else: {best([timed(floor, env)[0] for _ in range(repeat)])}"
    )
    for label, times in figures.items():
        print(f"    {label:<14} {best(times)}")


def check_runs(env: dict[str, str], tmp: Path, files: int, headers: int, import_seconds: float) -> None:
    work = generate_workload(tmp / "work", files, headers)
    paths = sorted(work.files.glob("*.lean"))
    extra = work.root / "Work/Base/Extra.lean"
    extra.write_text("def extra : Nat := 0\n")
    importers = paths[:10]
    for p in importers:
        p.write_text("import Work.Base.Extra\n" + p.read_text())
    time.sleep(1.5)
    argv = [*CLI, "check", str(work.files), "--simulate", "--sim-import-seconds", str(import_seconds)]
    argv += ["--no-daemon", "--jsonl", "-q"]

    def run(label: str, expect_elaborated: set[str] | None) -> list[dict[str, object]]:
        elapsed, done = timed(argv, env)
        lines = [json.loads(x) for x in done.stdout.splitlines()]
        outcomes = [x for x in lines if "path" in x]
        elaborated = {str(x["path"]) for x in outcomes if not x["cached"]}
        cached = len(outcomes) - len(elaborated)
        note = ""
        if expect_elaborated is not None:
            note = "  exactly those re-ran" if elaborated == expect_elaborated else f"  UNEXPECTED: {len(elaborated)}"
        print(f"    {label:<44} {elapsed:6.2f} s   {len(elaborated):3} elaborated, {cached:3} cached{note}")
        return outcomes

    print(f"(d) check of {files} files over {headers} headers, SIMULATED REPL, import {import_seconds} s, jobs 2")
    first = run("first run", None)
    second = run("second run, nothing changed (goal 1 s)", set())
    same = ("status", "messages", "sorries", "errors", "warnings")
    again = {b["path"]: b for b in second}
    equal = len(again) == len(first) and all(
        {k: a[k] for k in same} == {k: again[a["path"]][k] for k in same} for a in first
    )
    print(f"    second run's outcomes equal the first's: {equal}")
    edited = paths[-1]
    edited.write_text(edited.read_text() + "\n-- an edit of the body\n")
    run("after a body edit of one file", {str(edited)})
    extra.write_text("import Work.Base.B0\n\ndef extra : Nat := 0\n")
    run("after a header edit of a module 10 files import", {str(p) for p in importers})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--files", type=int, default=400)
    p.add_argument("--headers", type=int, default=40)
    p.add_argument("--import-seconds", type=float, default=0.48)
    p.add_argument("--skip-mathlib", action="store_true")
    args = p.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="lbd-store-bench-") as name:
        tmp = Path(name)
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache"), "XDG_RUNTIME_DIR": str(tmp / "run")}
        # Bytecode as an installed package has it (pip compiles it): with PYTHONDONTWRITEBYTECODE
        # set, every module without a `.pyc` would be compiled again by every process measured.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "lean_batchd")], check=True, env=env)
        (tmp / "run").mkdir()
        startup(env, args.repeat, tmp)
        if not args.skip_mathlib:
            root = mathlib(env, args.repeat, tmp)
            daemon_restart(env, root, tmp, args.repeat)
        check_runs(env, tmp, args.files, args.headers, args.import_seconds)


if __name__ == "__main__":
    main()
