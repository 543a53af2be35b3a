"""`lean-batchd mcp` driven by the MCP SDK's own client over stdio, against the real shared daemon
on the demo project (SIMULATED REPL): the tools and their schemas, typed errors, progress,
bounded output, cancellation, and agents sharing warm workers with an editor."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from mcp import Client

from lean_batchd.server import methods as m
from tests.mcp.conftest import data, error, mcp_client
from tests.server.conftest import connect_command, lsp, request
from tests.workers.conftest import wait_until

pytestmark = pytest.mark.timeout(240)

TOOLS = {
    "lean_check",
    "lean_run",
    "lean_check_snippets",
    "lean_module_info",
    "lean_plan",
    "lean_status",
    "lean_prewarm",
}


async def logged(client: Client, records: list[dict[str, Any]], name: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(name, arguments)
    records.append(
        {
            "request": {"method": "tools/call", "params": {"name": name, "arguments": arguments}},
            "response": result.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
    )
    return result


async def test_lists_every_tool_with_schemas_and_calls_each(demo: Path, sock: Path, transcript: Any) -> None:
    async with mcp_client(sock, demo) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert set(listed) == TOOLS
        for tool in listed.values():
            assert tool.description and tool.input_schema["type"] == "object" and tool.output_schema is not None
        assert listed["lean_check"].input_schema["required"] == ["paths"]
        assert listed["lean_status"].annotations is not None and listed["lean_status"].annotations.read_only_hint
        transcript.append({"request": {"method": "tools/list"}, "response": {"tools": sorted(listed)}})

        status = data(await logged(client, transcript, "lean_status", {}))
        assert status["simulated"] and status["daemon"]["pid"] and status["workers"] == []
        checked = data(await logged(client, transcript, "lean_check", {"paths": ["DemoTest"]}))
        assert [f["module"] for f in checked["files"]] == ["DemoTest.Algebra", "DemoTest.Lemmas", "DemoTest.Order"]
        assert checked["summary"]["statuses"] == {"ok": 3} and checked["summary"]["simulated"]
        ran = data(
            await logged(
                client, transcript, "lean_run",
                {"path": "src/Demo/Lemmas.lean", "code": "#check Demo.triple\ntheorem two : 1 + 1 = 2 := sorry"},
            )
        )  # fmt: skip
        assert [(x["severity"], x["line"]) for x in ran["messages"]] == [("info", 1), ("warning", 2)]
        (sorry,) = ran["sorries"]
        assert (sorry["line"], sorry["goal"]) == (2, "⊢ (simulated goal)") and ran["failure"] is None
        assert ran["imports"] == ["import Demo.Algebra", "import Demo.Order"] and ran["project"] == str(demo)
        header = data(await client.call_tool("lean_run", {"header": "import Demo.Basic", "code": "#check 1"}))
        assert header["imports"] == ["import Demo.Basic"] and header["messages"][0]["text"] == "#check 1 (simulated)"
        snippets = data(
            await logged(
                client, transcript, "lean_check_snippets",
                {"snippets": [
                    {"id": "ok", "code": "import Demo.Basic\ntheorem t : True := trivial"},
                    {"id": "bad", "code": "import Demo.Basic\n#check Nat\n-- sim:error"},
                ]},
            )
        )  # fmt: skip
        assert [(s["id"], s["status"]) for s in snippets["snippets"]] == [("bad", "errors"), ("ok", "ok")]
        assert snippets["summary"]["sessions"] == 1 and snippets["snippets"][0]["sessionKey"] == header["sessionKey"]
        info = data(await logged(client, transcript, "lean_module_info", {"path": "src/Demo/Lemmas.lean"}))
        assert info["module"] == "Demo.Lemmas" and info["sessionKey"] == ran["sessionKey"]
        assert info["workerState"] == "warm"
        plan = data(await client.call_tool("lean_plan", {"top": 2}))
        assert (plan["modules"], plan["batches"], len(plan["largest"])) == (10, 9, 2)
        assert plan["largest"][0]["modules"] == 2  # Demo.Algebra and Demo.Order share their header
        warmed = data(await logged(client, transcript, "lean_prewarm", {"path": "src/Demo/Scratch.lean", "wait": True}))
        assert warmed["workerState"] == "warm" and warmed["started"]
        after = data(await client.call_tool("lean_status", {}))
        assert {w["sessionKey"] for w in after["workers"]} >= {ran["sessionKey"], warmed["sessionKey"]}
        again = data(await client.call_tool("lean_check", {"paths": ["DemoTest"]}))
        assert not any(f["cached"] for f in checked["files"]) and all(f["cached"] for f in again["files"])
        assert (checked["summary"]["cached"], again["summary"]["cached"]) == (0, 3)
        fresh = data(await client.call_tool("lean_check", {"paths": ["DemoTest"], "cache": False}))
        assert not any(f["cached"] for f in fresh["files"])


async def test_bad_arguments_and_paths_get_typed_errors(demo: Path, tmp_path: Path, sock: Path) -> None:
    (demo / "notes.txt").write_text("not Lean")
    elsewhere = tmp_path / "Other.lean"
    elsewhere.write_text("#check 1")
    async with mcp_client(sock, demo) as client:
        for name, arguments, kind in [
            ("lean_check", {}, "invalid-arguments"),
            ("lean_check", {"paths": "DemoTest"}, "invalid-arguments"),
            ("lean_check", {"paths": []}, "invalid-arguments"),
            ("lean_check", {"paths": ["DemoTest"], "jobs": 0}, "invalid-arguments"),
            ("lean_check", {"paths": ["Missing.lean"]}, "not-found"),
            ("lean_check", {"paths": ["notes.txt"]}, "invalid-arguments"),
            ("lean_check", {"paths": [str(elsewhere)]}, "outside-workspace"),
            ("lean_run", {"code": "#check 1"}, "invalid-arguments"),
            ("lean_run", {"code": "#check 1", "path": "Main.lean", "header": "import Demo"}, "invalid-arguments"),
            ("lean_run", {"code": "#check 1", "path": "Main.lean", "timeout_seconds": -1}, "invalid-arguments"),
            (
                "lean_check_snippets",
                {"snippets": [{"id": "a", "code": "x"}, {"id": "a", "code": "y"}]},
                "invalid-arguments",
            ),
            ("lean_check_snippets", {"snippets": [{"id": "a"}]}, "invalid-arguments"),
            ("lean_module_info", {"path": str(elsewhere)}, "outside-workspace"),
            ("lean_module_info", {"path": "lakefile.toml"}, "invalid-arguments"),
            ("lean_run", {"code": "#check 1", "path": "src"}, "invalid-arguments"),
            ("lean_prewarm", {"path": "notes.txt"}, "invalid-arguments"),
            ("lean_run", {"code": "#check 1", "header": "this is not a header"}, "invalid-arguments"),
            ("lean_prewarm", {"header": "import Demo.Basic\n#check 1"}, "invalid-arguments"),
            ("lean_run", {"code": "#check 1", "header": "import Nonexistent.Mod"}, "header-failed"),
            ("lean_prewarm", {"header": "import Nope", "wait": True}, "header-failed"),
            ("lean_plan", {"profile": "everything"}, "invalid-arguments"),
            ("lean_prewarm", {}, "invalid-arguments"),
        ]:
            got, message = error(await client.call_tool(name, arguments))
            assert got == kind, (name, arguments, message)
        _, message = error(await client.call_tool("lean_check", {"paths": ["DemoTest"], "jobs": 0}))
        assert message.startswith("lean_check: jobs:")  # says which argument, and why
        assert data(await client.call_tool("lean_status", {}))["simulated"]  # still serving
    async with mcp_client(sock, tmp_path) as bare:  # no project here: headers run on the bare toolchain
        ran = data(await bare.call_tool("lean_run", {"header": "", "code": "#check Nat"}))
        assert ran["project"] is None and ran["messages"][0]["text"] == "#check Nat (simulated)"
        assert error(await bare.call_tool("lean_plan", {}))[0] == "outside-workspace"


async def test_a_client_starting_the_server_elsewhere_and_kiminas_names(demo: Path, tmp_path: Path, sock: Path) -> None:
    """Clients start MCP servers in a folder of their own: relative paths are looked up in the
    workspace's projects too; snippets may use Kimina Lean Server's `custom_id` and `proof`."""
    async with mcp_client(sock, tmp_path, "--project", str(demo)) as client:
        info = data(await client.call_tool("lean_module_info", {"path": "src/Demo/Basic.lean"}))
        assert info["module"] == "Demo.Basic"
        _, message = error(await client.call_tool("lean_module_info", {"path": "src/Demo/Nope.lean"}))
        assert str(tmp_path) in message and str(demo) in message  # where it looked
        got = data(
            await client.call_tool(
                "lean_check_snippets", {"snippets": [{"custom_id": "k1", "proof": "import Demo.Basic\n#check Nat"}]}
            )
        )
        assert [(s["id"], s["status"]) for s in got["snippets"]] == [("k1", "ok")]


async def test_progress_and_bounded_output(demo: Path, sock: Path) -> None:
    noisy = (
        "import Demo.Basic\n" + "".join(f"#check {'x' * 9000 if i == 0 else i}\n" for i in range(30)) + "-- sim:error"
    )
    snippets = [{"id": f"s{i}", "code": f"import Demo.Basic\n#check {i}"} for i in range(4)] + [
        {"id": "noisy", "code": noisy}
    ]
    async with mcp_client(sock, demo) as client:
        seen: list[tuple[float, float | None, str | None]] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            seen.append((done, total, message))

        result = await client.call_tool(
            "lean_check_snippets", {"snippets": snippets, "max_snippets": 2, "max_messages": 5},
            progress_callback=progress,
        )  # fmt: skip
        got = data(result)
        assert [x[0] for x in seen] == [0, 1, 2, 3, 4, 5] and {x[1] for x in seen} == {5}
        assert got["omittedSnippets"] == 3 and got["snippets"][0]["id"] == "noisy", got  # failures first
        noisy_result = got["snippets"][0]
        assert len(noisy_result["messages"]) == 5 and noisy_result["omittedMessages"] == 26
        assert noisy_result["messages"][0]["severity"] == "error"  # errors are kept first
        long = next(x["text"] for x in noisy_result["messages"] if "xxx" in x["text"])
        assert len(long) < 4100 and long.endswith("more characters]")
        seen.clear()
        data(await client.call_tool("lean_check", {"paths": ["DemoTest"]}, progress_callback=progress))
        assert [x[0] for x in seen] == [0, 1, 2, 3] and seen[-1][2] is not None and "ok" in seen[-1][2]
        assert all(x[2] is not None and x[2].startswith("DemoTest/") for x in seen[1:])  # named in the project


async def test_a_cancelled_call_frees_its_worker(demo: Path, sock: Path) -> None:
    lemmas = "src/Demo/Lemmas.lean"
    async with mcp_client(sock, demo) as client:
        warm = data(await client.call_tool("lean_run", {"path": lemmas, "code": "#check 1"}))
        hung = asyncio.create_task(client.call_tool("lean_run", {"path": lemmas, "code": "-- sim:hang"}))

        async def busy() -> list[dict[str, Any]]:
            status = data(await client.call_tool("lean_status", {}))
            return [w for w in status["workers"] if w["sessionKey"] == warm["sessionKey"] and w["state"] == "busy"]

        deadline = time.monotonic() + 30
        while not (running := await busy()):
            assert time.monotonic() < deadline, "the hanging command never started"
        (worker,) = running
        pid = worker["pid"]
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung
        assert await asyncio.to_thread(wait_until, lambda: not psutil.pid_exists(pid) or _zombie(pid), 15)
        started = time.monotonic()
        again = data(await client.call_tool("lean_run", {"path": lemmas, "code": "#check 2"}))
        assert again["failure"] is None and again["messages"][0]["text"] == "#check 2 (simulated)"
        assert time.monotonic() - started < 15  # a fresh worker, not the pool's 60 s queue timeout
        status = data(await client.call_tool("lean_status", {}))
        (replacement,) = [w for w in status["workers"] if w["sessionKey"] == warm["sessionKey"]]
        assert replacement["pid"] != pid and status["counters"]["spawns"] == 2  # killed and replaced once


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


async def test_two_agents_and_an_editor_share_one_warm_worker(demo: Path, sock: Path) -> None:
    lemmas = demo / "src/Demo/Lemmas.lean"
    async with mcp_client(sock, demo) as first:
        key = data(await first.call_tool("lean_module_info", {"path": str(lemmas)}))["sessionKey"]
        async with lsp(demo, connect_command(sock)) as editor, mcp_client(sock, demo) as second:
            editor.text_document_did_open(_opened(lemmas))
            checked, ran, prewarmed = await asyncio.gather(
                first.call_tool("lean_check", {"paths": [str(lemmas)]}),
                second.call_tool("lean_run", {"path": str(lemmas), "code": "#check Demo.triple"}),
                second.call_tool("lean_prewarm", {"path": str(lemmas), "wait": True}),
            )
            assert data(checked)["files"][0]["sessionKey"] == data(ran)["sessionKey"] == key
            assert data(prewarmed)["sessionKey"] == key
            from_editor = await request(
                editor, m.RUN, {"textDocument": {"uri": lemmas.as_uri()}, "command": "#check 1"}
            )
            assert from_editor["sessionKey"] == key and from_editor["failure"] is None
            status = data(await second.call_tool("lean_status", {}))
            assert status["connections"] == 3
            assert [w["sessionKey"] for w in status["workers"]] == [key]
            assert status["counters"]["spawns"] == 1  # one import served two agents and the editor
            assert status["workers"][0]["requests"] >= 3


async def test_the_next_call_reconnects_after_the_daemon_restarts(demo: Path, sock: Path) -> None:
    async with mcp_client(sock, demo) as client:
        before = data(await client.call_tool("lean_status", {}))["daemon"]["pid"]
        psutil.Process(before).terminate()
        assert await asyncio.to_thread(wait_until, lambda: not psutil.pid_exists(before) or _zombie(before), 20)
        after = data(await client.call_tool("lean_status", {}))["daemon"]["pid"]
        assert after != before  # started again, as `connect` would
        assert data(await client.call_tool("lean_run", {"header": "import Demo.Basic", "code": "#check 1"}))["messages"]


def _opened(path: Path) -> Any:
    from lsprotocol import types

    return types.DidOpenTextDocumentParams(types.TextDocumentItem(path.as_uri(), "lean", 1, path.read_text()))
