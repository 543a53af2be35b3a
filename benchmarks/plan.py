"""Planning figures on the Mathlib-scale tree (issue 3's figures).

- `exact` header batches for Mathlib's 8,303 modules (and their import totals)
- `cover` (module profile) totals at caps of 1,000, 2,000 and 4,000 modules, beside
  the naive total (one session per module) and one session importing `Mathlib`
- planning time per strategy, with the closure index built cold and reused

  python benchmarks/plan.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from machine import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    args = parser.parse_args()
    from lean_batchd.lake import LakeProject, discover
    from lean_batchd.plan import PlanConfig, Profile, Strategy, context_for, plan, work_from_model
    from lean_batchd.testing.mathlib_tree import generate

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "mathlib4"
        if not (root / "lakefile.lean").exists():
            generate(root, body_scale=0.05)
        project = discover(root)
        assert isinstance(project, LakeProject)
        for m in project.local_modules():
            project.graph.closure_digest(m.name)
        work = work_from_model(project)
        print(machine())
        print(f"{len(work)} modules (Mathlib library) plus {len(project.graph) - len(work)} dependency modules")

        def timed(config: PlanConfig) -> tuple[object, float, float]:
            t = time.perf_counter()
            cold = plan(work, context_for(project), config)
            cold_s = time.perf_counter() - t
            ctx = context_for(project)
            ctx.closures()
            t = time.perf_counter()
            plan(work, ctx, config)
            return cold, cold_s, time.perf_counter() - t

        exact, cold_s, warm_s = timed(PlanConfig())
        s = exact.stats  # type: ignore[attr-defined]
        print(
            f"exact, header profile: {s.batches} batches (largest {s.largest_batch} modules); sessions import "
            f"{s.imported_modules_total:,} modules in all vs {s.naive_imported_modules_total:,} naive; "
            f"planned in {cold_s * 1000:.0f} ms cold, {warm_s * 1000:.0f} ms with closures reused"
        )
        root_session = len(project.graph.closure(["Mathlib"]))
        for cap in (1000, 2000, 4000, None):
            config = PlanConfig(profile=Profile.MODULE, strategy=Strategy.COVER, max_closure=cap)
            result, cold_s, warm_s = timed(config)
            s = result.stats  # type: ignore[attr-defined]
            alone = len(result.diagnostics)  # type: ignore[attr-defined]
            print(
                f"cover, module profile, cap {cap or 'none':>5}: {s.batches:>5} batches ({alone} modules above the cap, "
                f"alone); sessions import {s.imported_modules_total:>9,} modules in all vs {s.naive_imported_modules_total:,} "
                f"naive ({s.naive_imported_modules_total / s.imported_modules_total:.1f}x fewer); "
                f"{cold_s * 1000:.0f} ms cold, {warm_s * 1000:.0f} ms reused"
            )
        print(f"one session importing the root `Mathlib`: {root_session:,} modules")


if __name__ == "__main__":
    main()
