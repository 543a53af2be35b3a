"""`lean-batchd connect`: an editor's stdio bridged to the shared daemon, started when needed.

Editors spawn language servers as stdio processes; the warm workers live in
one daemon per user. The bridge copies bytes both ways. It starts the daemon
detached (its own session, stdio to a log file, no inherited descriptors:
otherwise the editor would never see EOF), and a lock in the daemon makes
simultaneous bridges agree on one daemon. It connects only to a socket of this
user in a folder of this user, and writes the daemon's log only to a file of
this user, never through a symlink (`address.py`).
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

from .address import EXIT_ALREADY_RUNNING, UnsafePath, check_folder, connect_unix, lock_path, log_path, open_log

START_TIMEOUT = 20.0


def _connect(path: Path) -> socket.socket | None:
    """A connection, None when nobody listens; `UnsafePath` when the socket is not safely ours."""
    try:
        return connect_unix(path)
    except OSError:
        return None


def open_daemon(path: Path, serve_args: list[str]) -> socket.socket | str:
    """A connection to the daemon on `path`, starting one if none answers; or why not."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_folder(path.parent)
        sock = _connect(path)
        if sock is not None:
            return sock
        # -P: the package as installed, never a `lean_batchd` folder where the command was typed
        argv = [sys.executable, "-P", "-m", "lean_batchd", "serve", "--listen", f"unix:{path}", *serve_args]
        started = start_daemon(path, argv)
    except UnsafePath as e:
        return str(e)
    return wait_for_daemon(path, started)


def start_daemon(path: Path, argv: list[str]) -> subprocess.Popen[bytes]:
    """Start `argv` detached (its own session, stdio to the log beside the socket); `UnsafePath`
    when the folder or the log is not safely this user's."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open_log(log_path(path)) as log:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
        )


def wait_for_daemon(path: Path, started: subprocess.Popen[bytes] | None = None) -> socket.socket | str:
    """A connection once the daemon answers on `path`; or why not, as soon as the process we
    `started` has exited (unless it exited because another daemon won the race to start)."""
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        try:
            sock = _connect(path)
        except UnsafePath as e:
            return str(e)
        if sock is not None:
            if started is not None:
                _retire_if_late(path, started)
            return sock
        if started is not None and started.poll() is not None:
            if started.returncode == EXIT_ALREADY_RUNNING:  # another daemon won the race: wait for it
                started = None
                continue
            return f"the daemon exited with code {started.returncode} before it answered{_log_tail(path)}"
        time.sleep(0.05)
    return f"the daemon did not start within {START_TIMEOUT:g} s (see {log_path(path)})"


def _retire_if_late(path: Path, started: subprocess.Popen[bytes]) -> None:
    """Stop the daemon we started when another one answered first and ours does not hold the
    lock: still starting on a loaded machine, it would otherwise take the socket over as soon
    as the one we use stops, and linger with nobody asking for it."""
    if started.poll() is not None:
        return
    try:
        holder = lock_path(path).read_bytes().strip()
    except OSError:
        holder = b""
    if holder != str(started.pid).encode():
        started.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.wait(timeout=5)


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = log_path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"; the end of {log_path(path)}:\n" + "\n".join(f"  {line}" for line in text) if text else ""


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
