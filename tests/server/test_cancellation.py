"""Cancelled requests and vanished clients leave the daemon's sessions usable (issue 13, item 1).

The real daemon on a Unix socket with a slow SIMULATED import: `$/cancelRequest`
of a `run` or `check` while its worker imports or runs, and a crowd of clients
resetting their connections mid-request; the next request on the session must
be answered within about one import, not after the pool's 60 s queue timeout.
"""

from __future__ import annotations

import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import raw, receive_id, send
from tests.workers.conftest import wait_until, worker_processes

pytestmark = pytest.mark.timeout(180)

IMPORT = 1.5
PROMPT = 2 * IMPORT + 5.0
"""How long the next request may take: the rest of one import, with room for a loaded machine
(the fault made it wait the whole queue timeout, 60 s)."""


@pytest.fixture
def daemon(sock: Path) -> Iterator[Path]:
    serve = [
        sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{sock}", "--simulate",
        "--sim-import-seconds", str(IMPORT), "--sim-memory-mb", "5", "--max-workers", "2", "--no-prewarm",
    ]  # fmt: skip
    proc = subprocess.Popen(serve, stderr=subprocess.DEVNULL)
    assert wait_until(sock.exists, timeout=15)
    yield sock
    proc.terminate()
    proc.wait(20)


class Client:
    def __init__(self, path: Path, root: Path, timeout: float = 10) -> None:
        self.sock = raw(path)
        self.sock.settimeout(timeout)
        self.next_id = 1
        self.call("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        send(self.sock, {"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def start(self, method: str, params: Any = None) -> int:
        msg_id = self.next_id
        self.next_id += 1
        send(self.sock, {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def call(self, method: str, params: Any = None, timeout: float | None = None) -> dict[str, Any]:
        if timeout is not None:
            self.sock.settimeout(timeout)
        answer = receive_id(self.sock, self.start(method, params))
        assert isinstance(answer, dict)
        return answer

    def cancel(self, msg_id: int) -> None:
        send(self.sock, {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg_id}})

    def reset(self) -> None:
        """Vanish the way a killed client does: a TCP-style abort, nothing more said."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def document(path: Path, **extra: Any) -> dict[str, Any]:
    return {"textDocument": {"uri": path.as_uri()}, **extra}


def workers(client: Client) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = client.call("$/leanBatchd/status")["result"]["pool"]["workers"]
    return result


def assert_served_promptly(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    began = time.monotonic()
    answer = client.call(method, params, timeout=PROMPT)
    assert "result" in answer, answer
    assert time.monotonic() - began < PROMPT
    result: dict[str, Any] = answer["result"]
    return result


CASES = [
    ("$/leanBatchd/run", "importing", {}),
    ("$/leanBatchd/check", "importing", {"buildCheck": False}),
    ("$/leanBatchd/run", "busy", {"command": "-- sim:slow=60"}),
]


@pytest.mark.parametrize(("method", "stage", "extra"), CASES)
def test_cancel_request_frees_the_session(
    demo: Path, daemon: Path, method: str, stage: str, extra: dict[str, Any]
) -> None:
    main = demo / "Main.lean"
    client = Client(daemon, demo)
    watcher = Client(daemon, demo)
    try:
        msg_id = client.start(method, document(main, **extra))
        assert wait_until(lambda: [w["state"] for w in workers(watcher)] == [stage], timeout=15)
        client.cancel(msg_id)
        answer = receive_id(client.sock, msg_id)
        assert answer.get("error", {}).get("code") == -32800, answer  # type: ignore[union-attr]
        ran = assert_served_promptly(client, "$/leanBatchd/run", document(main, command="#check Nat"))
        assert ran["failure"] is None
        checked = assert_served_promptly(watcher, "$/leanBatchd/check", document(main, buildCheck=False))
        assert checked["status"] == "ok"
        counters = watcher.call("$/leanBatchd/status")["result"]["pool"]["counters"]
        assert not [k for k in counters if k.startswith("failures_")]
    finally:
        client.close()
        watcher.close()


def test_a_hundred_clients_resetting_mid_request_leave_every_session_usable(demo: Path, daemon: Path) -> None:
    files = [demo / "Main.lean", demo / "src/Demo/Algebra.lean", demo / "src/Demo/Basic.lean"]
    rnd = random.Random(13)
    plans = [(rnd.choice(files), rnd.choice(["run", "check"]), rnd.uniform(0.05, 2.5)) for _ in range(100)]
    errors: list[BaseException] = []

    def vanish(path: Path, method: str, after: float) -> None:
        try:
            client = Client(daemon, demo, timeout=30)
            params = document(path, buildCheck=False) if method == "check" else document(path, command="#check Nat")
            client.start(f"$/leanBatchd/{method}", params)
            time.sleep(after)
            client.reset()
        except OSError as e:  # a refused connection would be a fault of its own
            errors.append(e)

    threads = [threading.Thread(target=vanish, args=plan) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    survivor = Client(daemon, demo)
    try:
        assert wait_until(lambda: survivor.call("$/leanBatchd/status")["result"]["connections"] == 1, timeout=10)
        for path in files:
            checked = assert_served_promptly(survivor, "$/leanBatchd/check", document(path, buildCheck=False))
            assert checked["status"] == "ok", checked
        pool = survivor.call("$/leanBatchd/status")["result"]["pool"]
        assert pool["queueDepth"] == 0
        assert not [w for w in pool["workers"] if w["state"] == "busy"]
        assert len(worker_processes()) <= 2 * 2  # at most max_workers guards and REPLs
    finally:
        survivor.close()
