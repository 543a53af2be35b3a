"""Joining Ray (or starting a private one) for the executor, as the command line chose.

Whether anything listens at a head's address is asked before Ray is: `ray.init` keeps
retrying an address where nothing listens for minutes (its GCS client waits, times out, and
starts again), so a mistyped `--ray-address` looked like a hung command. (A port where some
other service listens still gets Ray's own, slow, verdict.)
"""

from __future__ import annotations

import os
import socket
from typing import Any

from .base import ExecutorChoice, ExecutorUnavailable
from .ray_actors import MEMORY_RESOURCE

REACH_SECONDS = 5.0
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024
"""A private local Ray moves only small replies: its default would reserve 30 % of the machine."""


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


def join(choice: ExecutorChoice, local_memory_mb: float) -> None:
    """`ray.init` for `choice`: a private single-node Ray (`local`, offering `local_memory_mb` of
    Lean memory), or the cluster at its address; ExecutorUnavailable saying why not."""
    import ray

    args: dict[str, Any] = {"namespace": choice.namespace, "include_dashboard": False, "log_to_driver": False}
    if choice.address == "local":
        args.update(
            address="local",
            num_cpus=os.cpu_count() or 1,
            resources={MEMORY_RESOURCE: int(local_memory_mb)},
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
        )
    else:
        problem = unreachable(choice.address)
        if problem is not None:
            raise ExecutorUnavailable(f"cannot join Ray at {choice.address}: {problem}")
        args["address"] = choice.address
    try:
        ray.init(**args)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ExecutorUnavailable(f"cannot join Ray at {choice.address}: {e}") from e


def raylet_errors_to_stderr() -> None:
    """Ray's driver prints its raylet's error reports ("A worker died ...") on stdout, whatever
    `log_to_driver` says (`listen_error_messages` in ray/_private/worker.py calls
    `print_to_stdstream` with `is_err=False`); stdout is `check --json`'s document and the LSP
    wire, so they go to stderr instead. The function is looked up by name at every message."""
    from ray._private import worker

    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "lean_batchd", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        printer({**data, "is_err": True}, ignore_prefix)

    to_stderr.lean_batchd = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr
