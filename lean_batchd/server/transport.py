"""JSON-RPC framing over asyncio streams, strict about bad input.

pygls's own loop logs malformed JSON and moves on without a reply; here a
body that is not JSON (or nested too deep to parse) gets -32700, and an
object that is not a JSON-RPC request, notification or response (an `id`
that is not a string or an integer, a `method` that is not a string) gets
-32600, with the `id` when it is usable. Nothing a message says can end the
connection: a fault while handling one is answered -32603. Only a broken
frame (a bad header, an oversized message) does, since the stream cannot be
resynchronised; the reader then says why. Writes never block the loop; a
client's notifications are kept to the latest state while it does not read
(`outbox.py`), and only a client that leaves tens of MB of answers to its own
requests unread is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from .methods import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR

log = logging.getLogger(__name__)
MAX_HEADER = 8192
MAX_BODY = 64 * 1024 * 1024
MAX_QUEUED = 32 * 1024 * 1024


class LoopWriter:
    """What pygls writes to: bytes onto an asyncio transport, from the loop thread only.

    Writes made while the loop runs one round of callbacks go out together at its end, in one
    system call: fifty answers to a burst of requests cost one `send`, not fifty."""

    def __init__(self, writer: asyncio.StreamWriter | asyncio.WriteTransport, on_overflow: Callable[[], None]) -> None:
        self._writer = writer
        self._on_overflow = on_overflow
        self._corked: list[bytes] = []
        self._corked_size = 0
        self.closed = False

    def _transport(self) -> asyncio.WriteTransport:
        w = self._writer
        return w.transport if isinstance(w, asyncio.StreamWriter) else w

    def queued(self) -> int:
        """Bytes written and not yet taken by the client."""
        return 0 if self.closed else self._transport().get_write_buffer_size() + self._corked_size

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if not self._corked:
            asyncio.get_running_loop().call_soon(self.flush)
        self._corked.append(data)
        self._corked_size += len(data)

    def flush(self) -> None:
        corked, self._corked, self._corked_size = self._corked, [], 0
        if self.closed or not corked:
            return
        transport = self._transport()
        if transport.is_closing():
            self.closed = True
            return
        transport.write(b"".join(corked))
        if transport.get_write_buffer_size() > MAX_QUEUED:
            log.warning("client left %d MB of answers unread; dropping the connection", MAX_QUEUED >> 20)
            self._on_overflow()

    def close(self) -> None:
        if not self.closed:
            self.flush()
            self.closed = True
            self._transport().close()


def frame(message: dict[str, Any]) -> bytes:
    return frame_json(json.dumps(message, ensure_ascii=True, separators=(",", ":")))


def frame_json(body: str) -> bytes:
    """A message already encoded as ASCII JSON, framed."""
    data = body.encode("ascii")
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


def error_message(msg_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": error}


def usable_id(value: Any) -> bool:
    """LSP ids are integers or strings (JSON-RPC's fractional numbers and null are not)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def invalid(message: Any) -> str | None:
    """Why `message` is not a JSON-RPC 2.0 request, notification or response; None if it is."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return "not a JSON-RPC 2.0 object"
    if "id" in message and not usable_id(message["id"]):
        return "`id` must be a string or an integer"
    if "method" in message:
        return None if isinstance(message["method"], str) else "`method` must be a string"
    if "id" in message and ("result" in message) != ("error" in message):
        return None  # a response
    return "neither a request, a notification nor a response"


async def read_messages(
    reader: asyncio.StreamReader, deliver: Callable[[dict[str, Any]], None], reply: Callable[[bytes], None]
) -> str | None:
    """Read framed messages until EOF (None) or a broken frame (why). Every message is answered
    or delivered; a message's fault never ends the loop."""
    while True:
        length = None
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                return None if not e.partial else "the stream ended inside a header"
            except asyncio.LimitOverrunError:
                return "a header line is too long"
            if len(line) > MAX_HEADER:
                return "a header line is too long"
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii", errors="replace").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return f"bad Content-Length header: {value.strip()[:40]!r}"
        if length is None or length < 0 or length > MAX_BODY:
            return "missing Content-Length" if length is None else f"Content-Length {length} out of range"
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return "the stream ended inside a message"
        handle(body, deliver, reply)


def handle(body: bytes, deliver: Callable[[dict[str, Any]], None], reply: Callable[[bytes], None]) -> None:
    """One message body: parsed, checked, delivered; any fault answered."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        reply(frame(error_message(None, PARSE_ERROR, f"Parse error: {str(e)[:200]}")))
        return
    problem = invalid(message)
    if problem is not None:
        msg_id = message.get("id") if isinstance(message, dict) and usable_id(message.get("id")) else None
        reply(frame(error_message(msg_id, INVALID_REQUEST, f"Invalid Request: {problem}")))
        return
    try:
        deliver(message)
    except Exception as e:  # a bug: answer, log, keep serving
        log.exception("handling %s failed", message.get("method", "a response"))
        if "method" in message and "id" in message:
            reply(frame(error_message(message["id"], INTERNAL_ERROR, f"internal error: {e}")))
