"""Discovery figures on a Mathlib-scale tree (issue 2's performance section).

Generates the tree from Mathlib's real import graph (8,303 modules plus
Batteries and stub dependencies, bodies of the recorded sizes) into a
temporary folder, then measures in a fresh child process so that peak RSS is
discovery's own:

  (a)  baseline: walk the tree and read each file's first 4 KiB (the header)
  (a') floor for content digests: walk, read every byte, SHA-256
  (b)  cold discovery with fingerprints (all closure digests and the project fingerprint)
  (c)  warm rediscovery with nothing changed (`rescan()`, stat cache), and a fresh
       `discover()` sharing the warm stat cache
  (d)  incremental update after editing one module's header, for a leaf and for a
       module 6,000 others import; plus refreshing every closure digest afterwards
  (e)  peak RSS of the measuring process

    python benchmarks/discovery.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from machine import machine


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _walk(root: str, whole: bool) -> int:
    import hashlib

    count = 0
    stack = [root]
    while stack:
        for entry in os.scandir(stack.pop()):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.name.endswith(".lean"):
                with open(entry.path, "rb") as f:
                    if whole:
                        hashlib.sha256(f.read()).digest()
                    else:
                        f.read(4096)
                count += 1
    return count


def measure(root: Path, repeat: int) -> dict[str, float | int | str]:
    from lean_batchd.lake import LakeProject, StatCache, discover

    out: dict[str, float | int | str] = {}
    out["files"] = _walk(str(root), False)
    out["a_baseline_s"] = _best(lambda: _walk(str(root), False), repeat)
    out["a_floor_read_hash_s"] = _best(lambda: _walk(str(root), True), repeat)

    def cold() -> LakeProject:
        project = discover(root)
        assert isinstance(project, LakeProject)
        for module in project.local_modules():
            project.graph.closure_digest(module.name)
        project.fingerprint()
        return project

    out["b_cold_s"] = _best(cold, repeat)
    cache = StatCache()
    found = discover(root, cache=cache)
    assert isinstance(found, LakeProject)
    project = found
    out["modules"] = len(project.local_modules())
    out["dependency_modules"] = len(project.graph) - len(project.local_modules())
    out["c_warm_rescan_s"] = _best(project.rescan, repeat)
    out["c_warm_discover_s"] = _best(lambda: discover(root, cache=cache), repeat)

    by_reach = sorted(
        (len(project.graph.dependents(m.name)), m.name) for m in project.local_modules() if m.name != "Mathlib"
    )
    for label, module in (("leaf", by_reach[0][1]), ("hub", "Mathlib.Order.Basic")):
        path = root / (module.replace(".", "/") + ".lean")
        original = path.read_text()
        edited = original.replace("\nmodule\n", "\nmodule\n\npublic import Mathlib.Logic.Basic\n", 1)
        times, refresh = [], []
        for i in range(repeat * 2):
            path.write_text(edited if i % 2 == 0 else original)
            t = time.perf_counter()
            change = project.update([path])
            times.append(time.perf_counter() - t)
            assert change.header_changed == (module,), change
            t = time.perf_counter()
            for m in project.local_modules():
                project.graph.closure_digest(m.name)
            refresh.append(time.perf_counter() - t)
        out[f"d_update_{label}_s"] = statistics.median(times)
        out[f"d_refresh_closures_{label}_s"] = statistics.median(refresh)
        out[f"d_dependents_{label}"] = len(project.graph.dependents(module))
    out["e_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def report(figures: dict[str, float | int | str]) -> str:
    a = float(figures["a_baseline_s"])
    ms = lambda key: f"{float(figures[key]) * 1000:8.1f} ms"  # noqa: E731
    lines = [
        f"Mathlib-scale tree: {figures['modules']} local modules, {figures['dependency_modules']} from packages, "
        f"{figures['files']} .lean files",
        f"(a)  baseline walk + read headers     {ms('a_baseline_s')}",
        f"(a') walk + read all + sha256         {ms('a_floor_read_hash_s')}   ({float(figures['a_floor_read_hash_s']) / a:.1f}x a)",
        f"(b)  cold discovery + fingerprints    {ms('b_cold_s')}   ({float(figures['b_cold_s']) / a:.1f}x a; target 1.5x)",
        f"(c)  warm rescan, nothing changed     {ms('c_warm_rescan_s')}   (target 150 ms)",
        f"     fresh discover, warm stat cache  {ms('c_warm_discover_s')}",
        f"(d)  header edit, a leaf module       {ms('d_update_leaf_s')}   (target 10 ms; "
        f"{figures['d_dependents_leaf']} dependents; refreshing all closure digests after: "
        f"{float(figures['d_refresh_closures_leaf_s']) * 1000:.1f} ms)",
        f"     header edit, Mathlib.Order.Basic {ms('d_update_hub_s')}   ({figures['d_dependents_hub']} dependents; "
        f"refreshing all closure digests after: {float(figures['d_refresh_closures_hub_s']) * 1000:.1f} ms)",
        f"(e)  peak RSS                         {float(figures['e_peak_rss_mb']):8.1f} MB   (target 150 MB)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder instead of a temporary one")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return
    from lean_batchd.testing.mathlib_tree import generate

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "mathlib4"
        if not (root / "lakefile.lean").exists():
            generate(root)
        time.sleep(1.5)  # let every file age past the stat cache's racy window, as real files have
        done = subprocess.run(
            [sys.executable, __file__, "--measure", str(root.resolve()), "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
        )
    figures = json.loads(done.stdout)
    print(machine())
    print(report(figures))
    if args.json:
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
