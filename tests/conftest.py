"""Shared helpers: small Lake trees written into pytest's temporary folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lean_batchd.lake import LakeProject, discover
from lean_batchd.testing.mathlib_tree import GeneratedTree, generate

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"

Tree = Callable[[dict[str, str]], Path]


@pytest.fixture(scope="session")
def mathlib(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedTree, LakeProject]:
    """The Mathlib-scale tree (small filler bodies) and its discovered model, shared by all tests."""
    tree = generate(tmp_path_factory.mktemp("mathlib") / "mathlib4", body_scale=0.05)
    project = discover(tree.root)
    assert isinstance(project, LakeProject)
    return tree, project


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """`tree({"lakefile.toml": ..., "A.lean": ...})` writes files and returns the folder."""

    def make(files: dict[str, str]) -> Path:
        return write_tree(tmp_path / "proj", files)

    return make
