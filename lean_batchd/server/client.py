"""A minimal LSP client for the command line (`status`, `check`): ask the daemon, print."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any


class DaemonRequestError(RuntimeError):
    """The daemon answered a request with an error; `data` holds the engine's typed error, if any."""

    def __init__(self, code: int, message: str, data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class DaemonClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.next_id = 1

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self) -> dict[str, Any]:
        length = 0
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("the daemon closed the connection")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        message: dict[str, Any] = json.loads(self.file.read(length))
        return message

    def request(self, method: str, params: Any = None) -> Any:
        msg_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == msg_id and "method" not in message:
                if "error" in message:
                    error = message["error"]
                    raise DaemonRequestError(error.get("code", 0), error.get("message", ""), error.get("data"))
                return message.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def session(self, root: Path | None = None) -> None:
        root_uri = root.as_uri() if root is not None else None
        self.request("initialize", {"processId": None, "rootUri": root_uri, "capabilities": {}})
        self.notify("initialized", {})

    def close(self) -> None:
        try:
            self.request("shutdown")
            self.notify("exit")
        except (OSError, RuntimeError, ConnectionError):
            pass
        self.sock.close()
