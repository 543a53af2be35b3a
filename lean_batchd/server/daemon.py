"""Serving LSP: over stdio for one editor, or on a socket for every editor of a user.

The socket daemon is built for many editors of one user at once:
a private 0700 folder, a lock so that a second daemon exits instead of taking
the socket over, a probe that tells a live socket from a stale one, the socket
bound 0600; TCP only on loopback and only with a token, because `run`
executes Lean code. It lives while any connection lives and stops after an
idle timeout without one; SIGTERM stops it cleanly (workers, socket, lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import secrets
import signal
import socket
import stat
import sys
from pathlib import Path

from ..engine.engine import Engine
from .address import EXIT_ALREADY_RUNNING, UnsafePath, lock_path, private_folder, token_path
from .hub import Hub
from .session import Session
from .transport import LoopWriter, read_messages

log = logging.getLogger(__name__)
STREAM_LIMIT = 1 << 24
LOOPBACK = ("127.0.0.1", "::1", "localhost")
SLOW_CALLBACK_ENV = "LEAN_BATCHD_SLOW_CALLBACK_MS"
"""Set (to a number of ms), the daemon logs every event-loop callback that runs longer (asyncio's
debug mode: `Executing <Handle ...> took 0.061 seconds`); the benchmarks read those lines."""
SWITCH_INTERVAL = 0.001


def _tune_loop() -> None:
    """The event loop answers editors while updates compute in threads. CPython hands the GIL from
    a busy thread to a waiting one every 5 ms by default, and the loop waits that long each time it
    comes back from a system call: 1 ms keeps a request's answer from queueing behind an update.
    With `LEAN_BATCHD_SLOW_CALLBACK_MS`, slow callbacks are logged."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    slow = os.environ.get(SLOW_CALLBACK_ENV)
    if slow:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = float(slow) / 1000


class DaemonError(Exception):
    """The daemon cannot start as asked (exit code and message for the command line)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _private_folder(folder: Path) -> None:
    try:
        private_folder(folder)
    except UnsafePath as e:
        raise DaemonError(str(e)) from None


def _probe(path: Path) -> bool:
    """Is a daemon answering on `path`?"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError as e:
        if e.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
            return False
        raise
    finally:
        probe.close()


class _UnixListener:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_fd: int | None = None
        self.inode: int | None = None

    def prepare(self) -> None:
        if len(os.fsencode(self.path)) >= 108:
            raise DaemonError(f"socket path too long for Unix sockets: {self.path}")
        _private_folder(self.path.parent)
        fd = os.open(lock_path(self.path), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DaemonError(f"a lean-batchd daemon already serves {self.path}", EXIT_ALREADY_RUNNING) from None
        self.lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())  # who holds it: see `bridge.wait_for_daemon`
        if self.path.exists():
            if _probe(self.path):
                raise DaemonError(f"a lean-batchd daemon already serves {self.path}", EXIT_ALREADY_RUNNING)
            self.path.unlink()

    def bound(self) -> None:
        self.path.chmod(0o600)
        self.inode = self.path.stat().st_ino

    def release(self) -> None:
        with contextlib.suppress(OSError):
            if self.inode is not None and self.path.stat().st_ino == self.inode:
                self.path.unlink()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


async def _serve_connection(hub: Hub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
    session: Session | None = None
    loop_writer = LoopWriter(writer, lambda: session.close() if session is not None else None)
    session = Session(hub, loop_writer, name)
    hub.attach(session)
    try:
        broken = await read_messages(reader, session.receive, loop_writer.write)
        if broken is not None:
            log.warning("dropping %s: %s", name, broken)
    except (ConnectionError, OSError) as e:
        log.info("connection %s lost: %s", name, e)
    finally:
        session.close()


def _log_file() -> str | None:
    """Where this daemon's log goes: the logging file, or the file its stderr was sent to
    (as `connect` starts it)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.fstat(2).st_mode):
            return os.readlink("/proc/self/fd/2")
    return None


def _about(hub: Hub, address: str) -> None:
    """What `status` says of the daemon itself, and what `restart` needs to start it again."""
    hub.about.update(pid=os.getpid(), address=address, log=_log_file(), python=sys.executable, argv=sys.argv[1:])


def _on_signals(hub: Hub) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, hub.request_stop)


async def serve_stdio(engine: Engine, prewarm_on_open: bool = True) -> int:
    """One editor over stdin/stdout; stops at `exit`, at EOF, or on SIGTERM. A frame it cannot
    read stops it too (stdio cannot be resynchronised), with the reason on stderr and exit 1."""
    loop = asyncio.get_running_loop()
    _tune_loop()
    hub = Hub(engine, prewarm_on_open=prewarm_on_open)
    _about(hub, "stdio")
    _on_signals(hub)
    reader = asyncio.StreamReader(limit=STREAM_LIMIT)
    stdin = os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    stdout = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, stdout)
    session: Session | None = None
    writer = LoopWriter(transport, lambda: session.close() if session is not None else None)
    session = Session(hub, writer, "stdio")
    hub.attach(session)
    session.on_close(hub.request_stop)
    reading = loop.create_task(read_messages(reader, session.receive, writer.write))
    stopping = loop.create_task(hub.stopped.wait())
    await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (reading, stopping):
        task.cancel()
    why = None
    if reading.done() and not reading.cancelled():
        error = reading.exception()
        why = f"reading stdin failed: {error!r}" if error is not None else reading.result()
    await hub.close()
    if why is None and (session.shut_down or not session.initialized):
        return 0
    if why is None:  # LSP: exit code 1 when the connection ends before `shutdown`
        why = (
            "stdin closed before `shutdown`"
            if reading.done() and not reading.cancelled()
            else "stopped by `exit` or a signal before `shutdown`"
        )
    log.error("stopping: %s", why)
    print(f"lean-batchd serve: stopping: {why}", file=sys.stderr, flush=True)
    return 1


async def serve_socket(
    engine: Engine,
    address: str,
    idle_timeout: float | None,
    prewarm_on_open: bool = True,
    ready: asyncio.Event | None = None,
) -> int:
    """The shared daemon on `unix:PATH` or `tcp:127.0.0.1:PORT`."""
    kind, _, where = address.partition(":")
    token = None
    token_file: Path | None = None
    listener: _UnixListener | None = None
    if kind == "unix":
        listener = _UnixListener(Path(where).expanduser())
        listener.prepare()
    elif kind == "tcp":
        host, _, port = where.rpartition(":")
        if host not in LOOPBACK or not port.isdigit():
            raise DaemonError(f"TCP is served on loopback only (tcp:127.0.0.1:PORT), not {address}")
        token = secrets.token_hex(16)
    else:
        raise DaemonError(f"unknown address {address!r}: use unix:PATH or tcp:127.0.0.1:PORT")
    _tune_loop()
    hub = Hub(engine, token=token, idle_timeout=idle_timeout, prewarm_on_open=prewarm_on_open)
    _about(hub, address)
    _on_signals(hub)
    names = iter(range(1, 1 << 62))

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_connection(hub, reader, writer, f"connection-{next(names)}")

    server: asyncio.AbstractServer
    if listener is not None:
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(connected, str(listener.path), limit=STREAM_LIMIT)
        finally:
            os.umask(old)
        listener.bound()
        log.info("serving on %s", listener.path)
    else:
        host, _, port = where.rpartition(":")
        server = await asyncio.start_server(connected, host, int(port), limit=STREAM_LIMIT)
        token_file = token_path(port)
        _private_folder(token_file.parent)
        token_file.unlink(missing_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token or "")
        log.info("serving on %s (token in %s)", address, token_file)
    hub.start_idle_timer()
    if ready is not None:
        ready.set()
    try:
        await hub.stopped.wait()
    finally:
        server.close()
        await hub.close()
        if listener is not None:
            listener.release()
        if token_file is not None:
            token_file.unlink(missing_ok=True)
    return 0
