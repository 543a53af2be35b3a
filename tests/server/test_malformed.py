"""Malformed JSON-RPC gets a JSON-RPC error and the connection keeps serving, on sockets and stdio."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from tests.server.conftest import SERVE, call, hello, raw, receive, send, serving

pytestmark = pytest.mark.timeout(120)

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
DEEP = b"[" * 100_000 + b"]" * 100_000

ANSWERED: list[tuple[str, object, object, int]] = [
    # (what, message, id of the reply, code)
    ("object id", {"jsonrpc": "2.0", "id": {"a": 1}, "method": "$/leanBatchd/status"}, None, INVALID_REQUEST),
    ("list id", {"jsonrpc": "2.0", "id": [1], "method": "shutdown"}, None, INVALID_REQUEST),
    ("boolean id", {"jsonrpc": "2.0", "id": True, "method": "$/leanBatchd/status"}, None, INVALID_REQUEST),
    ("fractional id", {"jsonrpc": "2.0", "id": 1.5, "method": "$/leanBatchd/status"}, None, INVALID_REQUEST),
    ("numeric method", {"jsonrpc": "2.0", "id": 5, "method": 42}, 5, INVALID_REQUEST),
    ("list method", {"jsonrpc": "2.0", "id": 6, "method": ["initialize"]}, 6, INVALID_REQUEST),
    ("neither request nor response", {"jsonrpc": "2.0", "id": 7}, 7, INVALID_REQUEST),
    ("no jsonrpc", {"id": 8, "method": "$/leanBatchd/status"}, 8, INVALID_REQUEST),
    ("nested 100,000 deep", DEEP, None, PARSE_ERROR),
    ("params nested 100,000 deep", b'{"jsonrpc":"2.0","id":9,"method":"$/leanBatchd/plan","params":' + DEEP + b"}",
     None, PARSE_ERROR),
    ("not UTF-8", b'{"jsonrpc":"2.0","id":10,"method":"\xff"}', None, PARSE_ERROR),
    ("huge integer", b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"x"}', None, PARSE_ERROR),
]  # fmt: skip

UNANSWERED: list[tuple[str, object]] = [
    ("cancel with list params", {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": [1]}),
    ("cancel with string params", {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": "x"}),
    ("cancel with null params", {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": None}),
    ("cancel of an object id", {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": {"x": 1}}}),
    ("didOpen with list params", {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": [1, 2]}),
    ("didOpen of a NUL path", {"jsonrpc": "2.0", "method": "textDocument/didOpen",
     "params": {"textDocument": {"uri": "file:///a%00.lean", "languageId": "lean4", "version": 1, "text": ""}}}),
    ("initialized with a number", {"jsonrpc": "2.0", "method": "initialized", "params": 7}),
    ("a response nobody asked for", {"jsonrpc": "2.0", "id": 99, "result": {"x": 1}}),
]  # fmt: skip


def body(message: object) -> bytes:
    return message if isinstance(message, bytes) else json.dumps(message).encode()


@pytest.mark.parametrize(("what", "message", "reply_id", "code"), ANSWERED, ids=[a[0] for a in ANSWERED])
def test_a_malformed_message_gets_an_error_and_the_socket_keeps_serving(
    demo: Path, sock: Path, what: str, message: object, reply_id: object, code: int
) -> None:
    with serving(sock), raw(sock) as s:
        hello(s, demo)
        send(s, body(message))
        reply = receive(s)
        while "method" in reply:  # the server's own notifications (the project's log line, diagnostics)
            reply = receive(s)
        assert reply["id"] == reply_id and reply["error"]["code"] == code, reply  # type: ignore[index]
        assert "result" in call(s, "$/leanBatchd/status")


def test_malformed_notifications_are_dropped_and_the_socket_keeps_serving(demo: Path, sock: Path) -> None:
    with serving(sock), raw(sock) as s:
        hello(s, demo)
        for _, message in UNANSWERED:
            send(s, body(message))
        reply = call(s, "$/leanBatchd/status", msg_id="after")
        assert reply["id"] == "after" and "result" in reply


class Stdio:
    """The server over stdio, with a framed reader on its stdout."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, data: bytes) -> None:
        stdin: IO[bytes] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    def send(self, message: object) -> None:
        data = body(message)
        self.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)

    def receive(self, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        out: IO[bytes] | None = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert line, "the server closed stdout"
            message: dict[str, Any] = json.loads(out.read(length))
            if until(message):
                return message


def test_on_stdio_malformed_input_is_answered_and_a_broken_frame_is_explained(demo: Path) -> None:
    server = Stdio()
    try:
        server.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"rootUri": demo.as_uri(),
                                                                                   "capabilities": {}}})  # fmt: skip
        server.receive(lambda m: m.get("id") == 0)
        for what, message, reply_id, code in ANSWERED:
            server.send(message)
            reply = server.receive(lambda m: "error" in m and "method" not in m)
            assert reply["id"] == reply_id and reply["error"]["code"] == code, what
        for _, message in UNANSWERED:
            server.send(message)
        server.send({"jsonrpc": "2.0", "id": "alive", "method": "$/leanBatchd/status"})
        assert "result" in server.receive(lambda m: m.get("id") == "alive")
        server.write(b"Content-Length: banana\r\n\r\n{}")
        assert server.proc.wait(30) == 1
        assert server.proc.stderr is not None
        assert b"Content-Length" in server.proc.stderr.read()  # it says why it stopped
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait(10)
