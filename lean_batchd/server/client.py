"""Minimal LSP clients of the daemon for the command line and benchmarks: no pygls.

`DaemonClient` is blocking (one request at a time: `status`, `stop`, benchmarks);
`AsyncDaemonClient` runs on an event loop, so a request can be cancelled: a
cancelled request sends `$/cancelRequest`, and closing the connection cancels
whatever is still running, which is how Ctrl-C on `check` frees the daemon's
workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any, BinaryIO

from ..lake.root import find_lake_root
from .address import check_socket


class DaemonRequestError(RuntimeError):
    """The daemon answered a request with an error; `data` holds the engine's typed error, if any."""

    def __init__(self, code: int, message: str, data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def content_length(line: bytes, length: int) -> int:
    """`length`, or the value a `Content-Length` header line gives."""
    name, _, value = line.decode("ascii", errors="replace").partition(":")
    return int(value) if name.strip().lower() == "content-length" else length


def initialize_params(root: Path | None, folders: list[Path] | None = None) -> dict[str, Any]:
    """`initialize` with `root` and `folders` as the workspace: a connection is served paths
    inside its workspace only."""
    params: dict[str, Any] = {"processId": None, "rootUri": root.as_uri() if root else None, "capabilities": {}}
    if folders:
        params["workspaceFolders"] = [{"uri": f.as_uri(), "name": f.name} for f in folders]
    return params


def project_roots(files: list[str]) -> list[Path]:
    """The Lake roots of `files`: the workspace folders a client names to be served them."""
    found = (find_lake_root(Path(f)).found for f in files)
    return sorted({r.root for r in found if r is not None})


def result_of(message: dict[str, Any]) -> Any:
    if "error" in message:
        error = message["error"]
        raise DaemonRequestError(error.get("code", 0), error.get("message", ""), error.get("data"))
    return message.get("result")


class DaemonClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file: BinaryIO = sock.makefile("rb")
        self.next_id = 1

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(frame(message))

    def receive(self) -> dict[str, Any]:
        length = 0
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("the daemon closed the connection")
            if line in (b"\r\n", b"\n"):
                break
            length = content_length(line, length)
        message: dict[str, Any] = json.loads(self.file.read(length))
        return message

    def request(self, method: str, params: Any = None) -> Any:
        msg_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == msg_id and "method" not in message:
                return result_of(message)

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def session(self, root: Path | None = None) -> None:
        self.request("initialize", initialize_params(root))
        self.notify("initialized", {})

    def close(self) -> None:
        try:
            self.request("shutdown")
            self.notify("exit")
        except (OSError, RuntimeError, ConnectionError):
            pass
        self.sock.close()


class AsyncDaemonClient:
    """Requests in flight at once over one connection; server notifications are dropped."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._next_id = 1
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._lost: BaseException | None = None
        self._reading = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, path: Path, root: Path | None = None, folders: list[Path] | None = None) -> AsyncDaemonClient:
        """Connect to the socket at `path` and initialise; OSError or ConnectionError if nobody
        answers, `UnsafePath` (before a byte is sent) if the socket or its folder is not safely
        this user's."""
        check_socket(path)
        reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 26)
        return await cls._initialized(reader, writer, root, folders)

    @classmethod
    async def over(cls, sock: socket.socket, folders: list[Path] | None = None) -> AsyncDaemonClient:
        """A client on a socket already connected to the daemon (`bridge.open_daemon`'s, which
        checked it and started the daemon when none answered), initialised."""
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 26)
        return await cls._initialized(reader, writer, None, folders)

    @classmethod
    async def _initialized(
        cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, root: Path | None, folders: list[Path] | None
    ) -> AsyncDaemonClient:
        client = cls(reader, writer)
        try:
            await client.request("initialize", initialize_params(root, folders))
            client.notify("initialized", {})
        except BaseException:
            client.abort()
            raise
        return client

    async def _read(self) -> None:
        try:
            while True:
                length = 0
                while True:
                    line = await self._reader.readline()
                    if not line:
                        raise ConnectionError("the daemon closed the connection")
                    if line in (b"\r\n", b"\n"):
                        break
                    length = content_length(line, length)
                message = json.loads(await self._reader.readexactly(length))
                waiter = self._waiting.pop(message.get("id"), None) if "method" not in message else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
            self._lost = e if isinstance(e, ConnectionError) else ConnectionError(f"the daemon connection failed: {e}")
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(self._lost)
            self._waiting.clear()

    @property
    def lost(self) -> bool:
        """The connection failed or the daemon closed it: every request now fails."""
        return self._lost is not None

    def _send(self, message: dict[str, Any]) -> None:
        if self._lost is not None:
            raise self._lost
        self._writer.write(frame(message))

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: Any = None) -> Any:
        """The result; DaemonRequestError for an error answer. Cancelling the caller cancels the
        request in the daemon too."""
        msg_id = self._next_id
        self._next_id += 1
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = waiter
        try:
            self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
            message = await waiter
        except asyncio.CancelledError:
            self._waiting.pop(msg_id, None)
            with contextlib.suppress(OSError, ConnectionError):
                self.notify("$/cancelRequest", {"id": msg_id})
            raise
        return result_of(message)

    def abort(self) -> None:
        """Drop the connection now: the daemon cancels whatever this client still has running."""
        self._reading.cancel()
        self._writer.close()

    async def close(self) -> None:
        """Shut down politely (the daemon finishes nothing on our behalf after this)."""
        with contextlib.suppress(OSError, ConnectionError, DaemonRequestError, TimeoutError):
            async with asyncio.timeout(2.0):
                await self.request("shutdown")
            self.notify("exit")
        self.abort()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()
