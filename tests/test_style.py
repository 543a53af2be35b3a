"""The code style the project promises: `ruff` and `mypy --strict` clean on `lean_batchd/`."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "lean_batchd"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_layers_import_only_the_layers_above() -> None:
    order = ["lake", "plan", "store", "workers", "executors", "engine", "server", "mcp"]
    for path in sorted((REPO / "lean_batchd").rglob("*.py")):
        rel = path.relative_to(REPO / "lean_batchd").parts
        if rel[0] not in order:
            continue
        allowed = set(order[: order.index(rel[0]) + 1])
        text = path.read_text()
        for layer in set(order) - allowed:
            assert f"lean_batchd.{layer}" not in text and f"from ..{layer}" not in text, (path, layer)
        assert "lean_batchd.testing" not in text and "from ..testing" not in text, path
        below = {m for m in re.findall(r"^\s*from \.\.(\w+)", text, re.M) if m not in allowed}
        assert not below, (path, below)  # nor the command line's modules (cli, check_command, terminal, ...)
