"""A Mathlib-scale Lake project generated from Mathlib's real import graph.

Module names, headers (with `module` and import modifiers) and file sizes are
Mathlib's and Batteries' own (mathlib4@93594942, 2026-08-03); bodies are
filler. The other dependencies Mathlib imports from (Aesop, Qq, ...) become
stub packages holding exactly the modules Mathlib names, so every import
resolves. Generated on demand into a temporary folder, never committed.
"""

from __future__ import annotations

import json
import lzma
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

COPYRIGHT = "/-\nCopyright (c) 2026 Generated for lean-batchd. Released under Apache 2.0 license.\n-/\n"
FILLER_LINE = "theorem filler_{n} : True := trivial\n"

# Root module prefix -> (package, library) for Mathlib's other dependencies.
STUB_PACKAGES = {
    "Aesop": ("aesop", "Aesop"),
    "Qq": ("Qq", "Qq"),
    "ProofWidgets": ("proofwidgets", "ProofWidgets"),
    "Plausible": ("plausible", "Plausible"),
    "LeanSearchClient": ("LeanSearchClient", "LeanSearchClient"),
    "ImportGraph": ("importGraph", "ImportGraph"),
}

LAKEFILE = """import Lake

open Lake DSL

/-- Mathlib's options (an abbrev: lean-batchd reports it as dynamic, not needed for discovery). -/
abbrev mathlibLeanOptions := #[
    ⟨`pp.unicode.fun, true⟩,
    ⟨`autoImplicit, false⟩
  ]

package mathlib where
  testDriver := "MathlibTest"
  lintDriver := "batteries/runLinter"

require "leanprover-community" / "batteries" @ git "main"
require "leanprover-community" / "Qq" @ git "master"
require "leanprover-community" / "aesop" @ git "master"
require "leanprover-community" / "proofwidgets" @ git "v0.0.86"
require "leanprover-community" / "importGraph" @ git "main"
require "leanprover-community" / "LeanSearchClient" @ git "main"
require "leanprover-community" / "plausible" @ git "main"

/-- The main library: `Mathlib.lean` and everything it imports. -/
@[default_target]
lean_lib Mathlib where
  leanOptions := mathlibLeanOptions
"""


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    name: str
    size: int
    is_module: bool
    prelude: bool
    imports: tuple[tuple[str, str], ...]
    """(module, modifiers) in source order; modifiers like 'public meta'."""

    def header(self) -> str:
        lines = (["module", ""] if self.is_module else []) + (["prelude"] if self.prelude else [])
        for module, modifiers in self.imports:
            words = [w for w in modifiers.split() if w != "all"] + ["import"]
            if "all" in modifiers.split():
                words.append("all")
            lines.append(" ".join([*words, module]))
        return COPYRIGHT + "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class GeneratedTree:
    root: Path
    mathlib: dict[str, ModuleSpec]
    batteries: dict[str, ModuleSpec]
    stubs: dict[str, tuple[str, ...]]
    """package -> the stub modules written for it."""
    total_bytes: int


@cache
def _graph() -> dict[str, Any]:
    raw = resources.files("lean_batchd.testing").joinpath("data/mathlib_graph.json.xz").read_bytes()
    data: dict[str, Any] = json.loads(lzma.decompress(raw))
    return data


def _specs(table: dict[str, list[Any]]) -> dict[str, ModuleSpec]:
    out = {}
    for name, (size, _header_bytes, is_module, prelude, imports) in table.items():
        pairs = tuple((i, "") if isinstance(i, str) else (i[0], i[1]) for i in imports)
        out[name] = ModuleSpec(name, size, bool(is_module), bool(prelude), pairs)
    return out


def mathlib_specs() -> dict[str, ModuleSpec]:
    return _specs(_graph()["mathlib"])


def batteries_specs() -> dict[str, ModuleSpec]:
    return _specs(_graph()["batteries"])


def _body(spec: ModuleSpec, header: str, body_scale: float) -> str:
    target = int(spec.size * body_scale) - len(header.encode())
    if target <= 0:
        return header
    lines = ["\n/-! Filler standing in for the module body (generated). -/\n\n"]
    written, n = len(lines[0]), 0
    while written < target:
        line = FILLER_LINE.format(n=n)
        lines.append(line)
        written += len(line)
        n += 1
    return header + "".join(lines)


def _write(folder: Path, spec: ModuleSpec, body_scale: float) -> int:
    path = folder.joinpath(*spec.name.split(".")).with_suffix(".lean")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _body(spec, spec.header(), body_scale)
    data = text.encode()
    path.write_bytes(data)
    return len(data)


def generate(dest: Path, body_scale: float = 1.0) -> GeneratedTree:
    """Write the tree under `dest` (created); `body_scale` shrinks bodies for quick tests."""
    graph = _graph()
    mathlib, batteries = mathlib_specs(), batteries_specs()
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "lakefile.lean").write_text(LAKEFILE)
    (dest / "lean-toolchain").write_text(graph["toolchain"].strip() + "\n")
    (dest / "lake-manifest.json").write_text(json.dumps(graph["manifest"], indent=1) + "\n")
    total = sum(_write(dest, spec, body_scale) for spec in mathlib.values())
    packages = dest / ".lake" / "packages"
    bat = packages / "batteries"
    bat.mkdir(parents=True, exist_ok=True)
    (bat / "lakefile.toml").write_text(
        'name = "batteries"\ndefaultTargets = ["Batteries"]\n\n[[lean_lib]]\nname = "Batteries"\n'
    )
    total += sum(_write(bat, spec, body_scale) for spec in batteries.values())
    needed: dict[str, set[str]] = {}
    for spec in mathlib.values():
        for module, _ in spec.imports:
            root = module.split(".")[0]
            if root in STUB_PACKAGES:
                needed.setdefault(STUB_PACKAGES[root][0], set()).add(module)
    stubs: dict[str, tuple[str, ...]] = {}
    libraries = {package: library for package, library in STUB_PACKAGES.values()}
    for package, modules in sorted(needed.items()):
        folder = packages / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "lakefile.toml").write_text(f'name = "{package}"\n\n[[lean_lib]]\nname = "{libraries[package]}"\n')
        for module in sorted(modules):
            total += _write(folder, ModuleSpec(module, 0, False, False, ()), body_scale)
        stubs[package] = tuple(sorted(modules))
    cli = packages / "Cli"
    cli.mkdir(parents=True, exist_ok=True)
    (cli / "lakefile.toml").write_text('name = "Cli"\n\n[[lean_lib]]\nname = "Cli"\n')
    return GeneratedTree(dest, mathlib, batteries, stubs, total)
