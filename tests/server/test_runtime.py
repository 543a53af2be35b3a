"""The daemon's folder, socket, lock, log and token: who owns them, and what clients trust.

The second user is real: the tests run as root and act as uid 65534 through `setpriv`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lean_batchd.server.address import UnsafePath, check_socket, connect_unix, open_log
from lean_batchd.server.bridge import wait_for_daemon
from tests.server.conftest import SIMULATED, call, hello, raw, serving
from tests.workers.conftest import wait_until

pytestmark = pytest.mark.timeout(120)

OTHER = 65534
as_second_user = pytest.mark.skipif(
    os.getuid() != 0 or shutil.which("setpriv") is None,
    reason="acting as a second user needs root and setpriv (util-linux)",
)

FAKE_DAEMON = """
import os, socket, sys
layout, shared = sys.argv[1], sys.argv[2]
folder = os.path.join(shared, "lean-batchd-0")
if layout == "symlinked-folder":
    real = os.path.join(shared, "elsewhere")
    os.mkdir(real)
    os.chmod(real, 0o777)
    os.symlink(real, folder)
else:
    os.mkdir(folder)
    os.chmod(folder, 0o777)
if layout == "log-symlink":
    os.symlink(os.path.join(shared, "victim"), os.path.join(folder, "daemon-simulated.log"))
    print("ready", flush=True)
    sys.exit(0)
listener = socket.socket(socket.AF_UNIX)
listener.bind(os.path.join(folder, "daemon-simulated.sock"))
os.chmod(os.path.join(folder, "daemon-simulated.sock"), 0o777)
listener.listen()
print("ready", flush=True)
with open(os.path.join(shared, "received"), "ab", buffering=0) as got:
    while True:
        conn, _ = listener.accept()
        conn.settimeout(3)
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        got.write(b"CONNECTION " + data + b"\\n")
        conn.close()
"""


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp folder like /tmp: world-writable and sticky, reachable by the second user."""
    folder = Path(tempfile.mkdtemp(prefix="lbd-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def second_user_prepared(shared: Path, layout: str) -> Iterator[Path]:
    """The second user prepares `shared/lean-batchd-0` (`layout`) and, unless it only plants a
    log symlink, listens there as if it were the daemon, recording what it receives."""
    fake = subprocess.Popen(
        ["setpriv", f"--reuid={OTHER}", f"--regid={OTHER}", "--clear-groups", sys.executable, "-I", "-S", "-c",
         FAKE_DAEMON, layout, str(shared)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert fake.stdout is not None and fake.stdout.readline() == "ready\n"
        yield shared / "received"
    finally:
        if fake.poll() is None:
            fake.kill()
        fake.wait(10)


def client_env(shared: Path) -> dict[str, str]:
    """The runtime folder's parent is a folder every user may write to, as the temp folder is
    when there is neither XDG_RUNTIME_DIR nor a login folder (named, not left to the fallback:
    on a desktop the fallback is the login session's private /run/user/UID)."""
    return {**os.environ, "XDG_RUNTIME_DIR": str(shared), "TMPDIR": str(shared)}


def lean_batchd(env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lean_batchd", *args], input=stdin, capture_output=True, env=env, timeout=60
    )


INITIALIZE = b'Content-Length: 58\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'


@as_second_user
@pytest.mark.parametrize("layout", ["own-folder", "symlinked-folder"])
def test_clients_refuse_a_folder_another_user_prepared(demo: Path, shared_tmp: Path, layout: str) -> None:
    env = client_env(shared_tmp)
    with second_user_prepared(shared_tmp, layout) as received:
        bridge = lean_batchd(env, "connect", *SIMULATED, stdin=INITIALIZE)
        assert bridge.returncode != 0 and b"refusing" in bridge.stderr, bridge.stderr
        status = lean_batchd(env, "status", "--simulate")
        assert status.returncode != 0 and b"refusing" in status.stderr, status.stderr
        check = lean_batchd(env, "check", "--simulate", "--sim-import-seconds", "0.05", str(demo / "Main.lean"))
        assert b"not using the daemon" in check.stderr and b"refusing" in check.stderr, check.stderr
        assert check.returncode == 0  # checked by workers of its own process instead
        time.sleep(0.5)
        assert not received.exists() or received.read_bytes() == b""  # nothing ever reached the other user


@as_second_user
def test_the_bridge_never_writes_its_log_through_another_users_symlink(shared_tmp: Path) -> None:
    victim = shared_tmp / "victim"
    victim.write_text("precious\n")
    with second_user_prepared(shared_tmp, "log-symlink"):
        started = time.monotonic()
        bridge = lean_batchd(client_env(shared_tmp), "connect", *SIMULATED, stdin=INITIALIZE)
        assert bridge.returncode != 0 and b"refusing" in bridge.stderr, bridge.stderr
        assert time.monotonic() - started < 15  # refused at once, not after the start timeout
    assert victim.read_text() == "precious\n"


@as_second_user
def test_a_socket_or_log_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    path = folder / "d.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    try:
        os.chown(path, OTHER, OTHER)
        with pytest.raises(UnsafePath, match="uid 65534"):
            connect_unix(path)
        os.chown(path, os.getuid(), os.getgid())
        connect_unix(path).close()
    finally:
        listener.close()
    log = folder / "d.sock.log"
    log.write_text("")
    os.chown(log, OTHER, OTHER)
    with pytest.raises(UnsafePath, match="not a file of this user"):
        open_log(log)


def test_symlinks_and_writable_folders_are_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UnsafePath, match="symlink"):
        check_socket(tmp_path / "link" / "d.sock")
    real.chmod(0o777)
    with pytest.raises(UnsafePath, match="written by other users"):
        check_socket(real / "d.sock")
    real.chmod(0o700)
    check_socket(real / "d.sock")  # absent: nothing to refuse
    (real / "d.sock.log").symlink_to(tmp_path / "elsewhere.log")
    with pytest.raises(UnsafePath, match="safely"):
        open_log(real / "d.sock.log")
    assert not (tmp_path / "elsewhere.log").exists()


def short_folder() -> Path:
    """Unix socket paths allow 107 bytes: pytest's temporary folders can be too deep."""
    return Path(tempfile.mkdtemp(prefix="lbd-")) / "run"


def test_sockets_that_differ_only_in_their_suffix_have_their_own_locks() -> None:
    folder = short_folder()
    a, x = folder / "a.sock", folder / "a.x"
    with serving(a), serving(x):
        for path in (a, x):
            with raw(path) as s:
                assert "result" in hello(s)
                assert call(s, "$/leanBatchd/status")["result"]
    assert not a.exists() and not x.exists()


def test_connect_stops_waiting_when_the_daemon_it_started_exits() -> None:
    too_long = short_folder() / ("x" * 50) / ("y" * 50) / "d.sock"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "connect", "--socket", str(too_long), *SIMULATED],
        input=b"", capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert b"exited" in done.stderr and b"too long" in done.stderr, done.stderr  # the daemon's own words
    assert time.monotonic() - started < 15  # not the whole start timeout


def test_simultaneous_bridges_agree_on_one_daemon() -> None:
    path = short_folder() / "d.sock"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "$/leanBatchd/status"}).encode()
    request = b"Content-Length: %d\r\n\r\n" % len(body) + body
    bridges = [
        subprocess.Popen(
            [sys.executable, "-m", "lean_batchd", "connect", "--socket", str(path), *SIMULATED],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    try:
        for bridge in bridges:
            out, err = bridge.communicate(request, timeout=60)
            assert b'"id":1' in out.replace(b" ", b""), err  # answered (not initialized: -32002)
    finally:
        with raw(path) as s:
            hello(s)
            call(s, "$/leanBatchd/stopDaemon")
        assert wait_until(lambda: not path.exists(), timeout=15)


def test_a_daemon_started_too_late_is_stopped_once_another_answers() -> None:
    """Four bridges start four daemons; one wins. A loser still importing Python on a loaded
    machine when the winner stops would take the socket over later and linger unasked."""
    path = short_folder() / "d.sock"
    with serving(path) as winner:
        assert (path.parent / "d.sock.lock").read_text().strip() == str(winner.pid)
        slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            sock = wait_for_daemon(path, slow)
            assert isinstance(sock, socket.socket)
            sock.close()
            assert slow.poll() is not None, "the late daemon still runs"
        finally:
            slow.kill()
            slow.wait()


def test_without_xdg_runtime_dir_the_login_folder_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a new-user tryout: an MCP client starts its server with HOME and PATH only, so
    its daemon went to /tmp while the user's shell (XDG_RUNTIME_DIR=/run/user/UID) looked in the
    login folder: two daemons, and `status` showed one."""
    from lean_batchd.server import address

    uid = str(os.getuid())
    monkeypatch.setattr(address, "LOGIN_RUNTIME_ROOT", tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / uid))
    told = address.runtime_dir()
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert address.runtime_dir() == tmp_path / "tmp" / f"lean-batchd-{uid}"  # no login folder: the temp folder
    (tmp_path / uid).mkdir(mode=0o700)
    assert address.runtime_dir() == told  # the same folder the shell's XDG_RUNTIME_DIR names
    (tmp_path / uid).chmod(0o777)
    assert address.runtime_dir() == tmp_path / "tmp" / f"lean-batchd-{uid}"  # not private: not trusted
