"""Rebuild `lean_batchd/testing/data/mathlib_graph.json.xz` from the shared Mathlib data.

The shared data (`../shared/data/mathlib/`, see its PROVENANCE.md) holds the real
import graph of Mathlib and Batteries at mathlib4@93594942 (2026-08-03): module
names, import edges with modifiers, file and header sizes; no source text. This
keeps only what the generated test tree needs, compressed (about 210 KB), so the
tests and benchmarks run on a clean clone.

    python tests/data/compact_mathlib_graph.py ../shared/data/mathlib
"""

from __future__ import annotations

import json
import lzma
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "lean_batchd" / "testing" / "data" / "mathlib_graph.json.xz"


def compact(path: Path) -> dict[str, list[object]]:
    data = json.loads(path.read_text())
    out: dict[str, list[object]] = {}
    for name, m in data["modules"].items():
        kinds = m.get("header_kinds") or {}
        modifiers = kinds.get("modifiers") or [""] * len(m["imports"])
        imports = [[i, mod] if mod else i for i, mod in zip(m["imports"], modifiers, strict=True)]
        out[name] = [
            m["bytes"],
            m["header_bytes"],
            int(bool(kinds.get("module"))),
            int(bool(kinds.get("prelude"))),
            imports,
        ]
    return out


def main(source: str) -> None:
    src = Path(source)
    facts = json.loads((src / "lakefile_facts.json").read_text())
    doc = {
        "provenance": "leanprover-community/mathlib4@93594942ef3b93fae5272d7bf368676ff40f8eb1 and "
        "leanprover-community/batteries@0ecf8993df88c044962426c2cbca0de5717d6150 (Apache-2.0); "
        "names, import edges and sizes only",
        "schema": "module -> [bytes, header_bytes, module keyword, prelude keyword, imports "
        "(name, or [name, modifiers])]",
        "toolchain": facts.get("lean_toolchain", "leanprover/lean4:v4.33.0-rc1"),
        "manifest": json.loads((src / "lake-manifest.json").read_text()),
        "mathlib": compact(src / "mathlib_imports.json"),
        "batteries": compact(src / "batteries_imports.json"),
    }
    OUT.write_bytes(lzma.compress(json.dumps(doc, separators=(",", ":")).encode(), preset=9))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mathlib")
