"""The benchmark scripts stay runnable: each imports cleanly (a helper renamed in one script
once broke another's import, unseen until someone measured)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPTS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_benchmark_script_imports(name: str) -> None:
    probe = f"import {name}; assert callable(getattr({name}, 'main', None)) or {name!r} == 'machine'"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO / "benchmarks", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
