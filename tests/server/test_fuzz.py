"""Property-based fuzzing of the real daemon: JSON-RPC framing and every `$/leanBatchd/*` method's
params. The property: each request gets a result or a typed error (never -32603, which is a bug)
within a time bound, the connection stays up, and the daemon keeps serving another client.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.server import methods as m
from tests.server.conftest import call, hello, raw, receive, send, serving

pytestmark = pytest.mark.timeout(600)

INVALID_PARAMS, NOT_INITIALIZED = -32602, -32002
TYPED = {-32700, -32600, -32601, INVALID_PARAMS, -32001, NOT_INITIALIZED}
"""Parse error, invalid request, unknown method, invalid params, the engine's typed errors, not
initialized; never -32603 (internal error: a bug)."""
BOUND = 15.0
"""Seconds for any one answer: the slowest legitimate request here (a run that starts a worker on
a loaded machine) takes well under one."""

FUZZ = settings(
    max_examples=int(os.environ.get("LEAN_BATCHD_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def uris(demo: Path) -> st.SearchStrategy[Any]:
    files = [demo / "Main.lean", demo / "src/Demo/Algebra.lean", demo / "DemoTest/Order.lean", demo / "nope.lean"]
    odd = [
        demo.as_uri(), "file:///etc/passwd", "file:///nonexistent/A.lean", "http://example.com/A.lean",
        "file:relative.lean", "file:///a%00b.lean", "file:///%ff.lean", "file://host/A.lean", "",
        "file:///" + "a" * 5000 + ".lean", (demo / ("x" * 300 + ".lean")).as_uri(),
    ]  # fmt: skip
    return st.sampled_from([f.as_uri() for f in files] + odd) | st.text(max_size=30) | json_values


def params(demo: Path) -> st.SearchStrategy[Any]:
    """Near-valid objects (each key a right or wrong value) and arbitrary JSON."""
    uri = uris(demo)
    document = st.fixed_dictionaries({"uri": uri}) | json_values
    near = st.fixed_dictionaries(
        {},
        optional={
            "textDocument": document,
            "uri": uri,
            "profile": st.sampled_from(["header", "module", "everything"]) | json_values,
            "strategy": st.sampled_from(["exact", "cover", "best"]) | json_values,
            "maxClosure": st.integers() | json_values,
            "timeoutMs": st.integers(min_value=-5, max_value=5000) | st.integers() | json_values,
            "command": st.sampled_from(["#check Nat", "theorem t : True := sorry", ""]) | st.text(max_size=40),
            "sessionKey": st.text(max_size=20) | json_values,
            "buildCheck": st.booleans() | json_values,
            "code": st.sampled_from(["import Demo.Basic\n#check Nat", "module\n#check 1", ""]) | st.text(max_size=40),
            "header": st.sampled_from(["import Demo.Basic", "", "import"]) | st.text(max_size=20) | json_values,
        },
    )
    return near | json_values


def answer(s: socket.socket, msg_id: object) -> dict[str, Any]:
    """The reply to `msg_id`, within the bound; server requests and notifications are skipped."""
    s.settimeout(BOUND)
    started = time.monotonic()
    while True:
        message: dict[str, Any] = receive(s)
        assert time.monotonic() - started < BOUND
        if "method" not in message and message.get("id") == msg_id:
            return message


def typed(reply: dict[str, Any]) -> None:
    assert ("result" in reply) != ("error" in reply), reply
    if "error" in reply:
        assert reply["error"]["code"] in TYPED, reply["error"]


FUZZED = [r for r in m.REQUESTS if r != m.STOP_DAEMON]


def test_every_method_answers_any_params_with_a_value_or_a_typed_error(demo: Path, sock: Path) -> None:
    with serving(sock, "--max-workers", "2"), raw(sock) as bystander:
        hello(bystander, demo)

        @FUZZ
        @given(method=st.sampled_from(FUZZED), value=params(demo))
        def prop(method: str, value: Any) -> None:
            with raw(sock) as s:
                hello(s, demo)
                send(s, {"jsonrpc": "2.0", "id": 1, "method": method, "params": value})
                typed(answer(s, 1))
                assert "result" in call(s, m.STATUS)

        prop()

        @FUZZ
        @given(value=json_values.filter(lambda v: v is not None and not isinstance(v, dict)))
        def stop_refuses_bad_params(value: Any) -> None:
            reply = call(bystander, m.STOP_DAEMON, value)
            assert reply["error"]["code"] == INVALID_PARAMS  # type: ignore[index]

        stop_refuses_bad_params()
        assert "result" in call(bystander, m.STATUS)


STANDARD = [
    "initialize", "initialized", "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
    "textDocument/didSave", "textDocument/codeLens", "workspace/executeCommand",
    "workspace/didChangeWorkspaceFolders", "$/cancelRequest", "$/setTrace", "unknown/method", "$/leanBatchd/nothing",
]  # fmt: skip
"""Methods a fuzzed message may name (besides ours): not `shutdown`, `exit` or `stopDaemon`, which
end the connection or the daemon by design."""


def messages(demo: Path) -> st.SearchStrategy[Any]:
    method = st.sampled_from(STANDARD + FUZZED) | st.text(max_size=12) | json_values
    msg_id = st.integers() | st.text(max_size=8) | json_values
    shaped = st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0"]) | json_values},
        optional={"id": msg_id, "method": method, "params": params(demo), "result": json_values},
    )
    return shaped | json_values


def bodies(demo: Path) -> st.SearchStrategy[bytes]:
    encoded = messages(demo).map(lambda v: json.dumps(v).encode())
    nested = st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n)
    return encoded | st.binary(max_size=200) | nested


def expected(body: bytes) -> tuple[bool, object]:
    """JSON-RPC's rule: does `body` get a reply, and with which id?"""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return True, None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return True, message.get("id") if isinstance(message, dict) and _usable(message.get("id")) else None
    has_id = "id" in message
    if has_id and not _usable(message["id"]):
        return True, None
    if "method" in message:
        return (True, message.get("id")) if not isinstance(message["method"], str) else (has_id, message.get("id"))
    is_response = has_id and ("result" in message) != ("error" in message)
    return (not is_response), message.get("id")


def _usable(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def test_any_framed_body_is_answered_as_json_rpc_says_and_the_connection_stays(demo: Path, sock: Path) -> None:
    with serving(sock, "--max-workers", "2"), raw(sock) as bystander:
        hello(bystander, demo)

        @FUZZ
        @given(body=bodies(demo))
        def prop(body: bytes) -> None:
            replies, msg_id = expected(body)
            with raw(sock) as s:
                hello(s, demo, msg_id="hello")
                send(s, body)
                send(s, {"jsonrpc": "2.0", "id": "ping", "method": m.STATUS})
                s.settimeout(BOUND)
                started, pinged, answered = time.monotonic(), False, not replies
                while not (pinged and answered):
                    message = receive(s)
                    assert time.monotonic() - started < BOUND
                    if "method" in message:
                        continue  # the server's own requests and notifications
                    if message.get("id") == "ping" and not pinged:
                        pinged = True
                    elif message.get("id") == msg_id and not answered:
                        typed(message)
                        answered = True
                    else:
                        pytest.fail(f"an answer nobody asked for: {message}")

        prop()
        assert "result" in call(bystander, m.STATUS)


HEADER_NAMES = st.sampled_from(["Content-Type", "content-type", "X-Anything", "Content-Length-Extra"])


def test_valid_frames_in_any_spelling_are_served_and_broken_streams_drop_only_their_connection(
    demo: Path, sock: Path
) -> None:
    with serving(sock), raw(sock) as bystander:
        hello(bystander, demo)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": m.STATUS}).encode()

        @FUZZ
        @given(
            length=st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH", "Content-Length "]),
            extra=st.lists(st.tuples(HEADER_NAMES, st.text("abc=; -/", max_size=20)), max_size=3),
            order=st.randoms(use_true_random=False),
            garbage=st.binary(max_size=300),
        )
        def prop(length: str, extra: list[tuple[str, str]], order: Any, garbage: bytes) -> None:
            lines = [f"{name}: {value}" for name, value in extra] + [f"{length}: {len(body)}"]
            order.shuffle(lines)
            with raw(sock) as s:
                s.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
                assert answer(s, 1)["error"]["code"] == NOT_INITIALIZED  # served, as LSP says
            with raw(sock) as s:
                s.sendall(garbage)

        prop()
        assert "result" in call(bystander, m.STATUS)
