"""End-to-end LSP tests: the real daemon process, driven by pytest-lsp's real pygls client."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from tests.workers.conftest import process_table_stays_clean, wait_until  # noqa: F401  (autouse: no leaked workers)

SIMULATED = ["--simulate", "--sim-import-seconds", "0.05", "--sim-memory-mb", "5"]
SERVE = [sys.executable, "-m", "lean_batchd", "serve", *SIMULATED]


def plain(value: Any) -> Any:
    """pygls hands custom results back as namedtuples: turn them into JSON values again."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def request(client: LanguageClient, method: str, params: Any = None) -> Any:
    return plain(await asyncio.wait_for(client.protocol.send_request_async(method, params), 30))


@contextlib.asynccontextmanager
async def lsp(
    root: Path | None, command: list[str] | None = None, editor: str = "visual-studio-code", **options: Any
) -> AsyncIterator[LanguageClient]:
    client = make_test_lsp_client()
    refreshes: list[None] = []
    client.lens_refreshes = refreshes  # type: ignore[attr-defined]
    client.feature(types.WORKSPACE_CODE_LENS_REFRESH)(lambda params: refreshes.append(None))
    cmd = command or SERVE
    await client.start_io(cmd[0], *cmd[1:])
    client.init_result = await client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=root.as_uri() if root else None,
            initialization_options=options or None,
        )
    )
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 20)
        await client.stop()


@pytest.fixture
def sock() -> Iterator[Path]:
    """A short socket path (Unix sockets allow 107 bytes); the daemon is gone afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lbd-"))
    path = folder / "run" / "d.sock"
    yield path
    if path.exists():
        stop(path)
    assert wait_until(lambda: not daemons(path), timeout=10)


def daemons(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "serve" in cmdline and f"unix:{path}" in cmdline:
            found.append(proc)
    return found


def connect_command(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lean_batchd", "connect", "--socket", str(path), *SIMULATED, *extra]


def raw(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.settimeout(10)
    return s


def send(s: socket.socket, message: object | bytes) -> None:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def receive(s: socket.socket) -> dict[str, object]:
    data = b""
    while b"\r\n\r\n" not in data:
        byte = s.recv(1)
        if not byte:
            raise ConnectionError("the server closed the connection")
        data += byte
    header, _, rest = data.partition(b"\r\n\r\n")
    fields = dict(line.split(b":", 1) for line in header.split(b"\r\n"))
    length = int(fields[b"Content-Length"])
    body = rest
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        body += chunk
    message: dict[str, object] = json.loads(body)
    return message


def receive_id(s: socket.socket, msg_id: object) -> dict[str, object]:
    while True:
        message = receive(s)
        if message.get("id") == msg_id and "method" not in message:
            return message


def stop(path: Path) -> None:
    with raw(path) as s:
        send(s, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        receive_id(s, 1)
        send(s, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send(s, {"jsonrpc": "2.0", "id": 2, "method": "$/leanBatchd/stopDaemon"})
        receive_id(s, 2)


def hello(s: socket.socket, root: Path | None = None, msg_id: object = "hello", **options: object) -> dict[str, object]:
    """`initialize` (with `root` as the workspace folder) and `initialized` on a raw connection."""
    params: dict[str, object] = {"capabilities": {}, "rootUri": root.as_uri() if root else None}
    if options:
        params["initializationOptions"] = options
    send(s, {"jsonrpc": "2.0", "id": msg_id, "method": "initialize", "params": params})
    reply = receive_id(s, msg_id)
    if "result" in reply:
        send(s, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    return reply


def call(s: socket.socket, method: str, params: object = None, msg_id: object = None) -> dict[str, object]:
    """One request on a raw connection; its whole reply (result or error)."""
    msg_id = msg_id if msg_id is not None else f"{method}-{next(_ids)}"
    send(s, {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return receive_id(s, msg_id)


_ids = itertools.count(1)


@contextlib.contextmanager
def serving(path: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A daemon on the Unix socket `path`, stopped with SIGTERM afterwards. Its log goes to a file
    (a pipe nobody reads would fill up and stop it), shown when the test fails."""
    with tempfile.TemporaryFile() as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{path}", *SIMULATED, *extra],
            stderr=log,
        )
        try:
            assert wait_until(path.exists, timeout=15), "the daemon did not start"
            yield daemon
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read()[-8000:].decode(errors="replace"))
            raise
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            daemon.wait(15)


def closed(s: socket.socket) -> bool:
    """Did the server close this connection (EOF, or a reset because our last words went unread)?"""
    s.settimeout(10)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
