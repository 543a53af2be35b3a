"""`lean-batchd connect`: an editor's stdio bridged to the shared daemon, started when needed.

Editors spawn language servers as stdio processes; the warm workers live in
one daemon per user. The bridge copies bytes both ways. It starts the daemon
detached (its own session, stdio to a log file, no inherited descriptors:
otherwise the editor would never see EOF), and a lock in the daemon makes
simultaneous bridges agree on one daemon.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

START_TIMEOUT = 20.0


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        return sock
    except OSError:
        sock.close()
        return None


def open_daemon(path: Path, serve_args: list[str]) -> socket.socket | str:
    """A connection to the daemon on `path`, starting one if none answers; or why not."""
    sock = _connect(path)
    if sock is not None:
        return sock
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = path.with_suffix(".log")
    with open(log_path, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{path}", *serve_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        sock = _connect(path)
        if sock is not None:
            return sock
        time.sleep(0.05)
    return f"the daemon did not start within {START_TIMEOUT:g} s (see {log_path})"


def bridge(sock: socket.socket) -> int:
    """Copy stdin to the socket and the socket to stdout until the daemon closes the connection."""
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()

    def upstream() -> None:
        while True:
            data = os.read(stdin, 65536)
            if not data:
                break
            sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True, name="bridge-up").start()
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            break
        if not data:
            break
        view = memoryview(data)
        while view:
            written = os.write(stdout, view)
            view = view[written:]
    sock.close()
    return 0
