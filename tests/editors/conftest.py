"""Editor tests drive real editors' code against the real daemon; their tools come from npm
and from Neovim packages. Without a tool a test skips with the reason, unless
LEAN_BATCHD_EDITOR_TESTS=required (as `.ci/run` sets), where a missing tool fails."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Generator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("LEAN_BATCHD_EDITOR_TESTS") == "required"
EXTENSION = REPO / "editors/vscode"
ARTIFACTS = Path(os.environ.get("LEAN_BATCHD_TEST_ARTIFACTS") or REPO / "build/test-artifacts")
"""Screenshots and logs the editor tests keep (`build/` is not tracked)."""


def missing(what: str) -> None:
    """Skip (or, when editor tests are required, fail) for a missing tool."""
    if REQUIRED:
        pytest.fail(f"{what}, and LEAN_BATCHD_EDITOR_TESTS=required")
    pytest.skip(what)


def run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Runs a tool; on failure the assertion shows everything it printed."""
    done = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture(scope="session")
def npm() -> str:
    """npm, with the extension's packages installed exactly as `package-lock.json` locks them.

    `npm ci` never writes the lockfile (`npm install` may rewrite it); it runs again only when
    the lockfile changed since the last install (a digest kept in `node_modules`)."""
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed (Node.js 20 and npm come from the distribution's packages)")
        raise AssertionError("unreachable")
    digest = hashlib.sha256((EXTENSION / "package-lock.json").read_bytes()).hexdigest()
    stamp = EXTENSION / "node_modules/.lean-batchd-lock"
    if not stamp.exists() or stamp.read_text() != digest:
        run([npm, "ci", "--no-audit", "--no-fund"], EXTENSION, timeout=900)
        stamp.write_text(digest)
    return npm


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    """Keeps each phase's report on the test item, so fixtures can tell a failure (and keep logs)."""
    report = yield
    setattr(item, f"report_{call.when}", report)
    return report
