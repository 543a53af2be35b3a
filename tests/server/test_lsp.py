"""The LSP server over stdio: every method, invalid params, notifications, lenses, diagnostics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lean_batchd.lake import LakeProject, discover
from tests.conftest import until
from tests.server.conftest import lsp, request
from tests.workers.conftest import wait_until, worker_processes

pytestmark = pytest.mark.timeout(120)


def uri(path: Path) -> dict[str, str]:
    return {"uri": path.as_uri()}


async def test_every_method(demo: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"
    async with lsp(demo) as client:
        experimental = client.init_result.capabilities.experimental  # type: ignore[attr-defined]
        assert "$/leanBatchd/run" in experimental["leanBatchd"]["requests"]
        (project,) = await request(client, "$/leanBatchd/projects")
        assert project["name"] == "demo" and project["modules"] == 10
        modules = await request(client, "$/leanBatchd/modules", {"uri": demo.as_uri()})
        assert {m["module"] for m in modules} >= {"Demo.Algebra", "DemoTest.Order", "Main"}
        info = await request(client, "$/leanBatchd/moduleInfo", {"textDocument": uri(algebra)})
        assert info["module"] == "Demo.Algebra" and info["workerState"] == "cold" and info["sharing"] == 2
        assert info["headerEnd"] == {"line": 4, "column": 23} and info["batchId"] == info["sessionKey"]
        plan = await request(client, "$/leanBatchd/plan", {})
        assert plan["stats"]["batches"] == 9 and plan["stats"]["importedModulesTotal"] == 31
        cover = await request(client, "$/leanBatchd/plan", {"profile": "module", "strategy": "cover", "maxClosure": 5})
        assert cover["strategy"] == "cover" and cover["stats"]["modules"] == 10
        fingerprint = await request(client, "$/leanBatchd/fingerprint", {"uri": demo.as_uri()})
        assert fingerprint["sourceCount"] == 10 and len(fingerprint["digest"]) == 64
        warming = await request(client, "$/leanBatchd/prewarm", {"textDocument": uri(algebra)})
        assert warming == {"sessionKey": info["sessionKey"], "started": True}
        by_key = await request(client, "$/leanBatchd/prewarm", {"sessionKey": info["sessionKey"]})
        assert by_key["sessionKey"] == info["sessionKey"]
        ran = await request(client, "$/leanBatchd/run", {"textDocument": uri(algebra), "command": "#check Nat"})
        assert ran["simulated"] and ran["failure"] is None and ran["messages"][0]["severity"] == "info"
        body = await request(client, "$/leanBatchd/run", {"textDocument": uri(algebra), "timeoutMs": 20000})
        assert body["failure"] is None and body["sessionKey"] == info["sessionKey"]
        status = await request(client, "$/leanBatchd/status")
        assert [w["state"] for w in status["pool"]["workers"]] == ["warm"] and status["simulated"]
        assert status["pool"]["counters"]["spawns"] == 1
        evicted = await request(client, "$/leanBatchd/evict", {"sessionKey": info["sessionKey"]})
        assert evicted == {"evicted": 1}
        after = await request(client, "$/leanBatchd/status")
        assert after["pool"]["workers"] == []


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("$/leanBatchd/moduleInfo", {}),
        ("$/leanBatchd/moduleInfo", {"textDocument": "x"}),
        ("$/leanBatchd/moduleInfo", {"textDocument": {"uri": "https://example.com/A.lean"}}),
        ("$/leanBatchd/moduleInfo", {"textDocument": {"uri": "file:///etc/A.lean"}}),
        ("$/leanBatchd/plan", {"profile": "everything"}),
        ("$/leanBatchd/plan", {"maxClosure": -3}),
        ("$/leanBatchd/plan", [1, 2]),
        ("$/leanBatchd/prewarm", {}),
        ("$/leanBatchd/run", {"command": "#check Nat"}),
        ("$/leanBatchd/run", {"textDocument": {"uri": "file:///x.lean"}, "timeoutMs": "soon"}),
        ("$/leanBatchd/evict", {}),
        ("$/leanBatchd/check", {}),
        ("$/leanBatchd/check", {"textDocument": {"uri": "file:///x.lean"}, "buildCheck": "yes"}),
    ],
)
async def test_invalid_params_get_32602(demo: Path, method: str, params: object) -> None:
    async with lsp(demo) as client:
        with pytest.raises(JsonRpcException) as error:
            await request(client, method, params)
        assert error.value.code == -32602
        assert await request(client, "$/leanBatchd/projects")  # still serving


async def test_unknown_method_and_unknown_session(demo: Path) -> None:
    async with lsp(demo) as client:
        with pytest.raises(JsonRpcException) as error:
            await request(client, "$/leanBatchd/nothing", {})
        assert error.value.code == -32601
        with pytest.raises(JsonRpcException) as error:
            await request(client, "$/leanBatchd/prewarm", {"sessionKey": "0123456789abcdef"})
        assert error.value.code == -32001 and "no session" in str(error.value.message)


async def test_a_file_edit_gives_plan_changed_within_a_second(demo: Path) -> None:
    async with lsp(demo) as client:
        await request(client, "$/leanBatchd/plan", {})
        await asyncio.sleep(0.3)
        changed = client.protocol.wait_for_notification_async("$/leanBatchd/planChanged")
        wrote = time.monotonic()
        (demo / "DemoTest/Order.lean").write_text("import Demo.Lemmas\n\nexample : True := trivial\n")
        note = await asyncio.wait_for(changed, 5)
        assert time.monotonic() - wrote < 1.0
        assert note.root == demo.as_uri()
        # It was alone in its session, which goes; it joins DemoTest.Lemmas's session.
        assert [b.modules for b in note.diff.removed] == [["DemoTest.Order"]]
        moves = [(c.addedModules, c.removedModules) for c in note.diff.changed if c.addedModules or c.removedModules]
        assert moves == [(["DemoTest.Order"], [])]


async def test_an_unsaved_header_changes_the_session_key(demo: Path) -> None:
    lemmas = demo / "src/Demo/Lemmas.lean"
    text = lemmas.read_text()
    async with lsp(demo, prewarmOnOpen=False) as client:
        doc = types.TextDocumentItem(uri=lemmas.as_uri(), language_id="lean4", version=1, text=text)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=doc))
        before = await request(client, "$/leanBatchd/moduleInfo", {"textDocument": uri(lemmas)})
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=lemmas.as_uri(), version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text.replace("import Demo.Order\n", ""))],
            )
        )
        after = await request(client, "$/leanBatchd/moduleInfo", {"textDocument": uri(lemmas)})
        assert after["unsaved"] and after["sessionKey"] != before["sessionKey"]
        assert after["imports"] == ["import Demo.Algebra"]
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(lemmas.as_uri()))
        )
        closed = await request(client, "$/leanBatchd/moduleInfo", {"textDocument": uri(lemmas)})
        assert closed["sessionKey"] == before["sessionKey"] and not closed["unsaved"]


async def test_lens_refreshes_go_only_to_clients_that_asked_for_lenses(demo: Path) -> None:
    """A client that has not asked for lenses yet asks anyway; a refresh would only postpone that
    (VS Code re-arms its debounce on every refresh)."""
    order = demo / "src/Demo/Order.lean"
    async with lsp(demo) as client:
        warm = client.protocol.wait_for_notification_async("$/leanBatchd/workerChanged")
        doc = types.TextDocumentItem(uri=order.as_uri(), language_id="lean4", version=1, text=order.read_text())
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=doc))
        await asyncio.wait_for(warm, 10)
        await asyncio.sleep(0.5)
        assert client.lens_refreshes == []  # type: ignore[attr-defined]
        await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(order.as_uri())))
        await request(client, "$/leanBatchd/evict", {"textDocument": uri(order)})
        end = time.monotonic() + 10
        while not client.lens_refreshes and time.monotonic() < end:  # type: ignore[attr-defined]
            await asyncio.sleep(0.02)
        assert client.lens_refreshes  # type: ignore[attr-defined]


async def test_did_open_prewarms_and_the_code_lens_follows(demo: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"
    async with lsp(demo) as client:
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(types.TextDocumentIdentifier(algebra.as_uri()))
        )
        assert lenses and "cold" in lenses[0].command.title and "2 modules share" in lenses[0].command.title
        warm = client.protocol.wait_for_notification_async("$/leanBatchd/workerChanged")
        doc = types.TextDocumentItem(uri=algebra.as_uri(), language_id="lean4", version=1, text=algebra.read_text())
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=doc))
        await asyncio.wait_for(warm, 10)

        async def title() -> str:
            got = await client.text_document_code_lens_async(
                types.CodeLensParams(types.TextDocumentIdentifier(algebra.as_uri()))
            )
            return got[0].command.title

        end = time.monotonic() + 10
        while "warm ·" not in await title() and time.monotonic() < end:
            await asyncio.sleep(0.05)
        assert "warm ·" in await title() and "MB" in await title()
        kinds = [type(v).__name__ for reports in client.progress_reports.values() for v in reports]
        assert "WorkDoneProgressBegin" in kinds and "WorkDoneProgressEnd" in kinds
        assert client.lens_refreshes  # type: ignore[attr-defined]  # the server asked to redraw the lens


async def test_an_olean_change_retires_the_warm_worker(demo: Path) -> None:
    algebra = demo / "src/Demo/Algebra.lean"
    async with lsp(demo) as client:
        states: list[tuple[str, str]] = []
        client.feature("$/leanBatchd/workerChanged")(lambda params: states.append((params.sessionKey, params.state)))
        key = (await request(client, "$/leanBatchd/prewarm", {"textDocument": uri(algebra)}))["sessionKey"]
        assert await until(lambda: (key, "warm") in states)
        olean = demo / ".lake/build/lib/lean/Demo/Basic.olean"
        olean.parent.mkdir(parents=True)
        olean.write_bytes(b"new build")
        assert await until(lambda: (key, "retiring") in states)
        assert await until(lambda: states.count((key, "warm")) == 2)  # a replacement, prewarmed


async def test_diagnostics_are_published_and_cleared(demo: Path) -> None:
    basic = demo / "src/Demo/Basic.lean"
    original = basic.read_text()
    async with lsp(demo) as client:
        basic.write_text("import Helper.Gone\n" + original)
        assert await until(lambda: bool(client.diagnostics.get(basic.as_uri())))
        (d,) = client.diagnostics[basic.as_uri()]
        assert d.code == "unresolved-import" and d.range.start.line == 0 and d.range.start.character == 7
        assert d.source == "lean-batchd"
        basic.write_text(original)
        assert await until(lambda: basic.as_uri() in client.diagnostics and not client.diagnostics[basic.as_uri()])


async def test_lakefile_problems_are_diagnostics(demo: Path) -> None:
    lakefile = demo / "lakefile.toml"
    async with lsp(demo) as client:
        lakefile.write_text(lakefile.read_text() + "\nsrcdir = 'typo'\n")
        assert await until(lambda: bool(client.diagnostics.get(lakefile.as_uri())))
        assert client.diagnostics[lakefile.as_uri()][0].code == "unknown-config-key"


async def test_shutdown_leaves_no_workers(demo: Path) -> None:
    async with lsp(demo) as client:
        await request(client, "$/leanBatchd/prewarm", {"textDocument": uri(demo / "Main.lean")})
        await request(client, "$/leanBatchd/prewarm", {"textDocument": uri(demo / "src/Demo/Order.lean")})
        assert await until(lambda: len(worker_processes()) == 4)
    assert await asyncio.to_thread(wait_until, lambda: not worker_processes())


async def test_watch_storm_then_the_served_model_equals_a_fresh_discovery(demo: Path) -> None:
    import os
    import random

    rnd = random.Random(11)
    async with lsp(demo) as client:
        await request(client, "$/leanBatchd/plan", {})
        folder = demo / "src/Demo/Gen"
        folder.mkdir()
        for i in range(2000):
            path = folder / f"F{rnd.randrange(300)}.lean"
            roll = rnd.random()
            if roll < 0.6:
                path.write_text(f"import Demo.{rnd.choice(['Basic', 'Order', 'Gen.F1'])}\ndef v{i} := {i}\n")
            elif roll < 0.8 and path.exists():
                os.replace(path, folder / f"F{rnd.randrange(300)}.lean")
            else:
                path.unlink(missing_ok=True)
        fresh = discover(demo)
        assert isinstance(fresh, LakeProject)
        want = fresh.fingerprint().digest

        async def served() -> str:
            return str((await request(client, "$/leanBatchd/fingerprint", {}))["digest"])

        end = time.monotonic() + 15
        while await served() != want and time.monotonic() < end:
            await asyncio.sleep(0.2)
        assert await served() == want
