"""An address where no Ray head answers is told at once, not retried for minutes by `ray.init`."""

from __future__ import annotations

import socket
import subprocess
import sys

from lean_batchd.executors.ray_join import head_endpoint, unreachable
from tests.conftest import DEMO


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_addresses_name_their_endpoint() -> None:
    assert head_endpoint("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert head_endpoint("ray://head.example:10001") == ("head.example", 10001)
    assert head_endpoint("[::1]:6379") == ("::1", 6379)
    assert [head_endpoint(a) for a in ("local", "auto", "head:port", ":6379")] == [None] * 4


def test_a_listening_head_is_reachable_and_a_closed_port_is_not() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert unreachable(f"127.0.0.1:{server.getsockname()[1]}") is None
    port = closed_port()
    told = unreachable(f"127.0.0.1:{port}")
    assert told is not None and told.startswith(f"nothing answers at 127.0.0.1:{port} (Connection refused)")


def test_check_with_a_wrong_ray_address_fails_at_once_saying_why() -> None:
    """Found trying `--ray-address` with a typo: `ray.init` was still retrying after 5 minutes."""
    port = closed_port()
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "check", str(DEMO), "--simulate", "--no-daemon",
         "--executor", "ray", "--ray-address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"cannot join Ray at 127.0.0.1:{port}: nothing answers at 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
