"""The shared daemon: many editors on one socket, one pool; bridges; permissions; bad input."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import until
from tests.server.conftest import (
    SIMULATED,
    connect_command,
    daemons,
    lsp,
    raw,
    receive,
    receive_id,
    request,
    send,
    stop,
)
from tests.workers.conftest import wait_until, worker_processes

pytestmark = pytest.mark.timeout(120)


async def test_two_editors_share_one_pool(demo: Path, sock: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"
    order = demo / "src/Demo/Order.lean"
    async with lsp(demo, connect_command(sock)) as first, lsp(demo, connect_command(sock), editor="neovim") as second:
        key = (await request(first, "$/leanBatchd/prewarm", {"textDocument": {"uri": algebra.as_uri()}}))["sessionKey"]
        ran = await request(
            second, "$/leanBatchd/run", {"textDocument": {"uri": order.as_uri()}, "command": "#check Nat"}
        )
        assert ran["sessionKey"] == key  # Demo.Order shares Demo.Algebra's header
        status = await request(second, "$/leanBatchd/status")
        assert status["connections"] == 2
        assert [w["sessionKey"] for w in status["pool"]["workers"]] == [key]
        assert status["pool"]["counters"]["spawns"] == 1 and status["pool"]["counters"]["reuses"] >= 1
        assert len(daemons(sock)) == 1
    folder = sock.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert daemons(sock)  # the daemon outlives its clients (until its idle timeout)


async def test_an_abrupt_disconnect_leaves_the_daemon_healthy(demo: Path, sock: Path) -> None:
    async with lsp(demo, connect_command(sock)) as survivor:
        await request(survivor, "$/leanBatchd/prewarm", {"textDocument": {"uri": (demo / "Main.lean").as_uri()}})
        victim = subprocess.Popen(connect_command(sock), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert victim.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}).encode()
        victim.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body + b'Content-Length: 400\r\n\r\n{"jsonrpc"')
        victim.stdin.flush()
        await asyncio.sleep(0.5)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        await asyncio.sleep(0.3)
        status = await request(survivor, "$/leanBatchd/status")
        assert status["connections"] == 1
        ran = await request(survivor, "$/leanBatchd/run", {"textDocument": {"uri": (demo / "Main.lean").as_uri()}})
        assert ran["failure"] is None


async def test_malformed_input_does_not_kill_the_daemon(demo: Path, sock: Path) -> None:
    async with lsp(demo, connect_command(sock)) as client:
        with raw(sock) as s:
            send(s, b"{this is not json")
            error = receive(s)["error"]
            assert error["code"] == -32700 and "Parse error" in error["message"]  # type: ignore[index]
        with raw(sock) as s:
            send(s, b"[1, 2, 3]")
            assert receive(s)["error"]["code"] == -32600  # type: ignore[index]
            send(
                s,
                {
                    "jsonrpc": "2.0",
                    "id": 7,
                    "method": "initialize",
                    "params": {"capabilities": {}, "rootUri": demo.as_uri()},
                },
            )
            receive_id(s, 7)
            send(s, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
            send(s, {"jsonrpc": "2.0", "id": 8, "method": "textDocument/codeLens", "params": {"textDocument": "nope"}})
            assert receive_id(s, 8)["error"]["code"] == -32602  # type: ignore[index]
            send(s, {"jsonrpc": "2.0", "id": 9, "method": "$/leanBatchd/plan", "params": "wrong"})
            assert receive_id(s, 9)["error"]["code"] == -32602  # type: ignore[index]
        with raw(sock) as s:
            s.sendall(b"Content-Length: banana\r\n\r\n{}")
            s.settimeout(5)
            assert s.recv(100) == b""  # only this connection is dropped
        with raw(sock) as s:
            s.sendall(b"X" * 20000 + b"\r\n")
        assert (await request(client, "$/leanBatchd/status"))["connections"] >= 1


def test_a_second_daemon_refuses_and_a_stale_socket_is_replaced(sock: Path) -> None:
    serve = [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{sock}", *SIMULATED]
    first = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(sock.exists, timeout=15)
        second = subprocess.run(serve, capture_output=True, text=True, timeout=30)
        assert second.returncode == 3 and "already serves" in second.stderr
        inode = sock.stat().st_ino
        assert sock.stat().st_ino == inode
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0
    assert not sock.exists()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # a socket file nobody listens on
    third = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: sock.exists() and _answers(sock), timeout=15)
    finally:
        third.send_signal(signal.SIGTERM)
        assert third.wait(15) == 0


def _answers(path: Path) -> bool:
    try:
        raw(path).close()
        return True
    except OSError:
        return False


def test_status_command_and_idle_exit(demo: Path, sock: Path) -> None:
    serve = [
        sys.executable,
        "-m",
        "lean_batchd",
        "serve",
        "--listen",
        f"unix:{sock}",
        "--idle-timeout",
        "2",
        *SIMULATED,
    ]
    daemon = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True)
    assert wait_until(sock.exists, timeout=15)
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "status", "--socket", str(sock), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["simulated"] is True
    text = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "status", "--socket", str(sock)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "workers: 0" in text.stdout and "SIMULATED" in text.stdout
    assert daemon.wait(20) == 0  # no connection for 2 s: it stops by itself
    assert not sock.exists()
    missing = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "status", "--socket", str(sock)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 3 and "no daemon" in missing.stderr
    none = subprocess.run(  # a script piping `status --json` into a JSON reader still gets JSON
        [sys.executable, "-m", "lean_batchd", "status", "--socket", str(sock), "--json"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert none.returncode == 3 and json.loads(none.stdout) == [] and "no daemon" in none.stderr


def test_stop_daemon_leaves_no_workers(demo: Path, sock: Path) -> None:
    async def go() -> None:
        async with lsp(demo, connect_command(sock)) as client:
            await request(client, "$/leanBatchd/prewarm", {"textDocument": {"uri": (demo / "Main.lean").as_uri()}})
            await until(lambda: len(worker_processes()) == 2)

    asyncio.run(go())
    stop(sock)
    assert wait_until(lambda: not daemons(sock), timeout=15)
    assert wait_until(lambda: not worker_processes())
    assert not sock.exists()


def test_tcp_needs_loopback_and_a_token(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", "tcp:0.0.0.0:0", *SIMULATED],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode == 2 and "loopback" in bad.stderr
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    port = _free_port()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"tcp:127.0.0.1:{port}", *SIMULATED], env=env
    )
    try:
        token_file = tmp_path / f"lean-batchd-{os.getuid()}" / f"tcp-{port}.token"
        assert wait_until(token_file.exists, timeout=15)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            send(s, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
            assert "token" in str(receive_id(s, 1)["error"])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            token = token_file.read_text()
            send(
                s,
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"capabilities": {}, "initializationOptions": {"token": token}},
                },
            )
            assert "result" in receive_id(s, 1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_unix_socket_path_too_long(tmp_path: Path) -> None:
    long = tmp_path / ("x" * 120) / "d.sock"
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{long}", *SIMULATED],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "too long" in done.stderr
