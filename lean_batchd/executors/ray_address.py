"""Whether a Ray head answers at an address, asked before Ray is: `ray.init` keeps retrying an
address where nothing listens for minutes (its GCS client waits, times out, and starts again),
so a mistyped `--ray-address` looked like a hung command."""

from __future__ import annotations

import socket

REACH_SECONDS = 5.0


def head_endpoint(address: str) -> tuple[str, int] | None:
    """The host and port an address names (`HOST:PORT`, `[IPv6]:PORT`, `ray://HOST:PORT`); None
    for `local`, `auto` and anything else Ray resolves itself."""
    bare = address.removeprefix("ray://")
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.removeprefix("[").removesuffix("]"), int(port)


def unreachable(address: str, timeout: float = REACH_SECONDS) -> str | None:
    """Why nothing can be joined at `address` (None: something accepts connections there)."""
    endpoint = head_endpoint(address)
    if endpoint is None:
        return None
    try:
        socket.create_connection(endpoint, timeout=timeout).close()
    except OSError as e:
        why = e.strerror or str(e) or type(e).__name__
        host, port = endpoint
        return f"nothing answers at {host}:{port} ({why}); is a head node started there (`ray start --head`)?"
    return None
