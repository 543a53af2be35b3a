"""Where the per-user daemon listens, and who may own it: known to the daemon and to every
client, without pygls (the bridge imports this on every editor start).

The socket, its lock, the bridge's log and the TCP token sit in a folder of
their own: `$XDG_RUNTIME_DIR/lean-batchd-UID`, else under the login
session's `/run/user/UID`, else under the temp folder, which every local user
can write to. There another user could create the folder first, or plant a
symlink or a socket, and receive what an editor sends to "the daemon". So the daemon and every client (the bridge,
`status`, `check`, ...) trust a folder only if it is a real folder (not a
symlink) of this user that no one else can write to, a socket only if this
user owns it, and open a log only without following a symlink (tmux checks
its socket folder the same way).
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import BinaryIO

EXIT_ALREADY_RUNNING = 3
"""How a daemon exits when another one already holds the socket's lock."""


class UnsafePath(Exception):
    """A folder, socket or log that another user could control: refused, never used."""


LOGIN_RUNTIME_ROOT = Path("/run/user")
"""Where systemd-logind makes each logged-in user's runtime folder (what `XDG_RUNTIME_DIR` names in
a desktop session)."""


def runtime_dir() -> Path:
    """A private folder for the socket, lock and token: in $XDG_RUNTIME_DIR; without it, in the
    login session's `/run/user/UID` when there is one of this user's, else in the temp folder.
    MCP clients start servers with a reduced environment (HOME, PATH, ...): looking for the login
    folder keeps an agent's daemon the one the user's shell shows in `status`, not a second one."""
    base = os.environ.get("XDG_RUNTIME_DIR") or _login_runtime() or os.environ.get("TMPDIR") or "/tmp"
    return Path(base) / f"lean-batchd-{os.getuid()}"


def _login_runtime() -> str | None:
    folder = LOGIN_RUNTIME_ROOT / str(os.getuid())
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    mine = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
    return str(folder) if mine else None


def default_socket(simulated: bool = False) -> Path:
    """The per-user daemon's socket; the SIMULATED daemon has its own, so that it never
    answers for Lean."""
    return runtime_dir() / ("daemon-simulated.sock" if simulated else "daemon.sock")


def lock_path(sock: Path) -> Path:
    """`a.sock.lock`: one lock per socket name (`a.sock` and `a.x` must not share `a.lock`)."""
    return sock.with_name(sock.name + ".lock")


def log_path(sock: Path) -> Path:
    """Where a daemon started by the bridge writes its output."""
    return sock.with_name(sock.name + ".log")


def token_path(port: int | str) -> Path:
    return runtime_dir() / f"tcp-{port}.token"


def _owner(info: os.stat_result) -> str:
    return "this user" if info.st_uid == os.getuid() else f"uid {info.st_uid}"


def check_folder(folder: Path) -> None:
    """Raise `UnsafePath` unless `folder` is a folder of this user, not a symlink, that no one
    else can write to."""
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePath(f"{folder} is a symlink; refusing to use it for lean-batchd's socket")
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UnsafePath(f"{folder} is not a folder of this user (owner: {_owner(info)}); refusing to use it")
    if info.st_mode & 0o022:
        raise UnsafePath(f"{folder} can be written by other users (mode {stat.S_IMODE(info.st_mode):o}); refusing")


def private_folder(folder: Path) -> None:
    """Create `folder` 0700 (the daemon's side), or check and tighten an existing one of ours."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UnsafePath(f"{folder} is not a folder of this user; refusing to put a socket there")
    if stat.S_IMODE(info.st_mode) != 0o700:
        folder.chmod(0o700)


def check_socket(path: Path) -> None:
    """Raise `UnsafePath` unless `path` is absent or a socket of this user in a safe folder."""
    check_folder(path.parent)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        kind = "a socket" if stat.S_ISSOCK(info.st_mode) else "not a socket"
        raise UnsafePath(f"{path} is {kind} owned by {_owner(info)}; refusing to connect to it")


def connect_unix(path: Path) -> socket.socket:
    """A connection to the daemon on `path`, after checking who owns the folder and the socket.
    `UnsafePath` when someone else could stand in for the daemon; `OSError` when none listens."""
    check_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def open_log(path: Path) -> BinaryIO:
    """`path` opened for appending (and reading back), never through a symlink, and only if it is
    this user's regular file."""
    check_folder(path.parent)
    try:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise UnsafePath(f"cannot open the log {path} safely: {e.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        raise UnsafePath(f"{path} is not a file of this user; refusing to write the log there")
    return os.fdopen(fd, "a+b")
