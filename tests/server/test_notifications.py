"""Notifications are proportional to change: diagnostics only for files whose diagnostics changed,
and a client that stops reading is neither dropped nor sent a backlog: it gets the latest state."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from lean_batchd.engine.news import PlanNews, plan_news
from lean_batchd.plan.diff import BatchChange
from lean_batchd.server import outbox as outbox_module
from lean_batchd.server import transport as transport_module
from lean_batchd.server.outbox import Outbox
from lean_batchd.server.transport import LoopWriter
from lean_batchd.testing.mathlib_tree import generate
from tests.server.conftest import call, hello, raw, receive, send, serving

pytestmark = pytest.mark.timeout(240)
PLAN_CHANGED = "$/leanBatchd/planChanged"
PUBLISH = "textDocument/publishDiagnostics"


def until_message(s: socket.socket, wanted: str, seen: list[dict[str, Any]], timeout: float = 20) -> dict[str, Any]:
    """Read until a `wanted` notification arrives, keeping every message read on the way."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        message = receive(s)
        seen.append(message)
        if message.get("method") == wanted:
            return message
    raise AssertionError(f"no {wanted} within {timeout} s")


def collect(s: socket.socket, seconds: float) -> list[dict[str, Any]]:
    """Everything that arrives within `seconds`."""
    out: list[dict[str, Any]] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            out.append(receive(s))
        except TimeoutError:
            break
    return out


def quiet_generation(s: socket.socket, timeout: float = 60) -> int:
    """The served generation once nothing is pending, twice in a row half a second apart: the
    watcher's own look at the last writes (it may catch a file mid-write) has landed too."""
    end = time.monotonic() + timeout
    seen: int | None = None
    while time.monotonic() < end:
        project = call(s, "$/leanBatchd/status")["result"]["projects"][0]  # type: ignore[index]
        if not project["pending"] and project["generation"] == seen:
            return seen
        seen = None if project["pending"] else project["generation"]
        time.sleep(0.5)
    raise AssertionError(f"the project did not settle within {timeout} s")


def saved(s: socket.socket, path: Path) -> None:
    """`didSave`: the daemon applies the change without waiting for its watcher."""
    send(s, {"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {"textDocument": {"uri": path.as_uri()}}})


def test_diagnostics_are_published_only_for_files_whose_diagnostics_changed(demo: Path, sock: Path) -> None:
    basic, order = demo / "src/Demo/Basic.lean", demo / "src/Demo/Order.lean"
    good = basic.read_text()
    with serving(sock, "--no-prewarm"), raw(sock) as client:
        hello(client, demo)
        call(client, "$/leanBatchd/projects")
        seen: list[dict[str, Any]] = []
        basic.write_text("import Helper.Gone\n" + good)
        saved(client, basic)
        note = until_message(client, PUBLISH, seen)
        assert note["params"]["uri"] == basic.as_uri() and len(note["params"]["diagnostics"]) == 1
        collect(client, 1.0)  # the watcher's own look at the same write changes nothing
        seen.clear()
        order.write_text(order.read_text() + "\ntheorem more : True := trivial\n")
        saved(client, order)
        until_message(client, PLAN_CHANGED, seen)
        seen += collect(client, 1.5)
        assert [m for m in seen if m.get("method") == PUBLISH] == []  # Basic's diagnostics did not change
        seen.clear()
        basic.write_text(good)
        saved(client, basic)
        note = until_message(client, PUBLISH, seen)
        assert note["params"] == {"uri": basic.as_uri(), "diagnostics": []}
        seen += collect(client, 1.5)
        assert [m["params"]["uri"] for m in seen if m.get("method") == PUBLISH] == [basic.as_uri()]


def test_a_client_that_stops_reading_is_not_dropped_and_ends_with_the_latest_state(tmp_path: Path, sock: Path) -> None:
    """On the Mathlib-scale tree, each edit of `Mathlib.Order.Basic` moves 7,282 batches' fingerprints;
    a client that reads nothing for 30 edits still gets the latest plan generation afterwards."""
    root = generate(tmp_path / "mathlib4", body_scale=0.02).root.resolve()
    basic = root / "Mathlib/Order/Basic.lean"
    plain = basic.read_text()
    with serving(sock, "--no-prewarm"), raw(sock) as driver, raw(sock) as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hello(driver, root)
        hello(slow, root)
        driver.settimeout(60)
        call(driver, "$/leanBatchd/projects")
        seen: list[dict[str, Any]] = []
        for k in range(30):
            basic.write_text(plain + f"\n-- edit {k}\n")
            saved(driver, basic)
            until_message(driver, PLAN_CHANGED, seen)
        last = quiet_generation(driver)
        heard: list[dict[str, Any]] = []
        slow.settimeout(5)
        with pytest.raises(TimeoutError):
            while True:
                heard.append(receive(slow))
        plans = [m["params"] for m in heard if m.get("method") == PLAN_CHANGED]
        assert plans and plans[-1]["generation"] == last
        assert all(p["diff"]["dependents"]["batches"] > 7000 for p in plans)
        assert call(slow, "$/leanBatchd/status")["result"]["projects"][0]["generation"] == last  # type: ignore[index]


def news(since: int, generation: int, changed: dict[str, BatchChange], dependents: set[str]) -> PlanNews:
    return plan_news(since, generation, f"fp{generation}", {}, {}, changed, frozenset(dependents), 1, 10)


def test_a_slow_readers_notifications_are_kept_as_latest_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the high-water mark nothing more is queued: one plan change per project, composed from
    the client's last news, the latest diagnostics per file and state per worker, once it reads;
    however much happened meanwhile, the connection is not dropped."""
    monkeypatch.setattr(outbox_module, "HIGH_WATER", 64 * 1024)
    monkeypatch.setattr(outbox_module, "LOW_WATER", 16 * 1024)
    monkeypatch.setattr(transport_module, "MAX_QUEUED", 4 * 1024 * 1024)
    dropped: list[bool] = []

    async def main() -> list[dict[str, Any]]:
        server, client = socket.socketpair()
        _, writer = await asyncio.open_connection(sock=server)
        box = Outbox(LoopWriter(writer, lambda: dropped.append(True)))
        filler = b"Content-Length: 2\r\n\r\n{}" * 100_000  # the client stopped reading mid-way
        box.writer.write(filler)
        await asyncio.sleep(0)
        assert box.writer.queued() > outbox_module.HIGH_WATER
        box.plan_changed("file:///p", news(1, 2, {"a": BatchChange("a", ("X",), (), ())}, {"b"}))
        box.plan_changed("file:///p", news(2, 3, {"c": BatchChange("c", (), (), ("Y",))}, {"b", "d"}))
        versions = range(1, 20_001)  # far more than a queue could hold before the drop
        for version in versions:
            box.notify(PUBLISH, {"uri": "file:///p/A.lean", "diagnostics": [version]}, "file:///p/A.lean")
            box.notify("$/leanBatchd/workerChanged", {"sessionKey": "k", "state": f"s{version}"}, "k")
        await asyncio.sleep(0)
        assert not dropped
        assert box.parked == 2 + 2 * len(versions)

        def read_all() -> bytes:
            client.settimeout(3)
            data = b""
            try:
                while chunk := client.recv(1 << 20):
                    data += chunk
            except TimeoutError:
                pass
            return data

        data = await asyncio.to_thread(read_all)
        writer.close()
        client.close()
        bodies = data[len(filler) :].split(b"Content-Length: ")[1:]
        return [json.loads(b[b.index(b"\r\n\r\n") + 4 :]) for b in bodies]

    messages = asyncio.run(main())
    assert [m["method"] for m in messages] == [PLAN_CHANGED, PUBLISH, "$/leanBatchd/workerChanged"]
    plan = messages[0]["params"]
    assert (plan["root"], plan["since"], plan["generation"], plan["fingerprint"]) == ("file:///p", 1, 3, "fp3")
    assert [c["id"] for c in plan["diff"]["changed"]] == ["a", "c"] and plan["diff"]["dependents"]["batches"] == 2
    assert messages[1]["params"]["diagnostics"] == [20_000] and messages[2]["params"]["state"] == "s20000"
    assert not dropped
