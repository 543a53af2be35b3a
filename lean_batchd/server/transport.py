"""JSON-RPC framing over asyncio streams, strict about bad input.

pygls's own loop logs malformed JSON and moves on without a reply; here a
body that is not JSON gets a -32700 reply, an object that is not a request
gets -32600, and a broken header or an oversized message drops only this
connection. Writes never block the loop: a client that stops reading is
dropped once too much is queued for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from .methods import INVALID_REQUEST, PARSE_ERROR

log = logging.getLogger(__name__)
MAX_HEADER = 8192
MAX_BODY = 64 * 1024 * 1024
MAX_QUEUED = 32 * 1024 * 1024


class LoopWriter:
    """What pygls writes to: bytes onto an asyncio transport, from the loop thread only."""

    def __init__(self, writer: asyncio.StreamWriter | asyncio.WriteTransport, on_overflow: Callable[[], None]) -> None:
        self._writer = writer
        self._on_overflow = on_overflow
        self.closed = False

    def _transport(self) -> asyncio.WriteTransport:
        w = self._writer
        return w.transport if isinstance(w, asyncio.StreamWriter) else w

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        transport = self._transport()
        if transport.is_closing():
            self.closed = True
            return
        transport.write(data)
        if transport.get_write_buffer_size() > MAX_QUEUED:
            log.warning("client stopped reading; dropping the connection")
            self._on_overflow()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._transport().close()


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def error_message(msg_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": error}


async def read_messages(
    reader: asyncio.StreamReader, deliver: Callable[[Any], None], reply: Callable[[bytes], None]
) -> None:
    """Read framed messages until EOF or a framing error; parse errors are answered, not fatal."""
    while True:
        length = None
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                log.warning("header line too long; dropping the connection")
                return
            if len(line) > MAX_HEADER:
                return
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii", errors="replace").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return
        if length is None or length < 0 or length > MAX_BODY:
            log.warning("missing or bad Content-Length; dropping the connection")
            return
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            reply(frame(error_message(None, PARSE_ERROR, f"Parse error: {e}")))
            continue
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            msg_id = message.get("id") if isinstance(message, dict) else None
            reply(frame(error_message(msg_id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 object")))
            continue
        deliver(message)
