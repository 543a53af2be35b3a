"""A generated check workload: many files over few import headers (bodies are filler).

`generate_workload(root, files=400, headers=40)` writes a Lake project whose
`Work/Base` modules are imported in `headers` distinct combinations by the
files under `Work/Files`. Every seventh file has a `sorry` (a warning), so
outcomes are not all alike, and every file declares `value`, which Lean
accepts in each module but a session that ran one file's body on top of
another's would refuse: planned and naive agree only if each body runs on its
header's own environment. Nothing here is Lean: the tree is for the
SIMULATED REPL and for Lake discovery.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Workload:
    root: Path
    files: Path
    """The folder holding the files to check."""
    headers: int
    count: int


def generate_workload(root: Path, files: int = 400, headers: int = 40) -> Workload:
    bases = 1
    while bases + bases * (bases - 1) // 2 < headers:
        bases += 1
    combos = [*([b] for b in range(bases)), *(list(c) for c in itertools.combinations(range(bases), 2))][:headers]
    (root / "Work/Base").mkdir(parents=True, exist_ok=True)
    (root / "Work/Files").mkdir(parents=True, exist_ok=True)
    (root / "lakefile.toml").write_text('name = "work"\n\n[[lean_lib]]\nname = "Work"\nglobs = ["Work.+"]\n')
    (root / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n")
    for b in range(bases):
        (root / f"Work/Base/B{b}.lean").write_text(f"def base{b} : Nat := {b}\n")
    for k in range(files):
        imports = "".join(f"import Work.Base.B{b}\n" for b in combos[k % len(combos)])
        proof = "sorry" if k % 7 == 0 else "trivial"
        body = f"\ntheorem work{k} : True := {proof}\n\ndef value : Nat := {k}\n"
        (root / f"Work/Files/F{k:04d}.lean").write_text(imports + body)
    return Workload(root.resolve(), (root / "Work/Files").resolve(), len(combos), files)
