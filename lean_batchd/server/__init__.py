"""The LSP front end: translates LSP to engine calls (pygls 2 and lsprotocol)."""

from .daemon import DaemonError, default_socket, runtime_dir, serve_socket, serve_stdio
from .hub import Hub
from .session import Session

__all__ = ["DaemonError", "Hub", "Session", "default_socket", "runtime_dir", "serve_socket", "serve_stdio"]
