"""Where the per-user daemon listens: known to the daemon and to every client, without pygls."""

from __future__ import annotations

import os
from pathlib import Path

EXIT_ALREADY_RUNNING = 3
"""How a daemon exits when another one already holds the socket's lock."""


def runtime_dir() -> Path:
    """A private folder for the socket, lock and token: $XDG_RUNTIME_DIR, else the temp folder."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    return Path(base) / f"lean-batchd-{os.getuid()}"


def default_socket(simulated: bool = False) -> Path:
    """The per-user daemon's socket; the SIMULATED daemon has its own, so that it never
    answers for Lean."""
    return runtime_dir() / ("daemon-simulated.sock" if simulated else "daemon.sock")
