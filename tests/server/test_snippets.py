"""The daemon's snippet methods (`snippetInfo`, `checkSnippet`, `runSnippet`, `prewarm` by
header) over a real Unix socket, on the SIMULATED REPL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lean_batchd.server import methods as m
from tests.server.conftest import call, hello, raw, serving


def result(reply: dict[str, Any]) -> Any:
    assert "result" in reply, reply
    return reply["result"]


def test_a_snippet_is_checked_in_its_headers_session_of_the_project(demo: Path, sock: Path) -> None:
    code = "import Demo.Basic\ntheorem t : True := sorry\n#check Nat"
    with serving(sock, "--no-prewarm"), raw(sock) as s:
        hello(s, demo)
        info = result(call(s, m.SNIPPET_INFO, {"code": code, "uri": demo.as_uri()}))
        module = result(call(s, m.MODULE_INFO, {"textDocument": {"uri": (demo / "src/Demo/Algebra.lean").as_uri()}}))
        assert info["imports"] == ["import Demo.Basic"] and info["project"] == str(demo)
        assert info["workerState"] == "cold" and info["elaboration"]["path"] == "repl"
        # a file outside every library of the project with this header has the same session
        (demo / "Scratch.lean").write_text("import Demo.Basic\n")
        scratch = result(call(s, m.MODULE_INFO, {"textDocument": {"uri": (demo / "Scratch.lean").as_uri()}}))
        assert scratch["sessionKey"] == info["sessionKey"] != module["sessionKey"]  # Demo's files: library Demo
        outcome = result(call(s, m.CHECK_SNIPPET, {"code": code, "uri": demo.as_uri(), "buildCheck": False}))
        assert outcome["path"] is None and outcome["module"] is None
        assert (outcome["status"], outcome["sorries"], outcome["sessionKey"]) == ("ok", 1, info["sessionKey"])
        starts = sorted(msg["range"]["start"]["line"] for msg in outcome["messages"])
        assert starts == [1, 2]  # the snippet's own lines
        warm = result(call(s, m.SNIPPET_INFO, {"code": code, "uri": demo.as_uri()}))
        assert warm["workerState"] == "warm"
        ran = result(
            call(
                s, m.RUN_SNIPPET, {"header": "import Demo.Basic", "command": "#check 1\n#check 2", "uri": demo.as_uri()}
            )
        )
        assert ran["sessionKey"] == info["sessionKey"] and ran["failure"] is None
        assert [msg["range"]["start"]["line"] for msg in ran["messages"]] == [0, 1]  # the command's own lines
        status = result(call(s, m.STATUS))
        assert status["pool"]["counters"]["spawns"] == 1  # check, run and the file share one import


def test_bare_toolchain_snippets_and_prewarm_by_header(demo: Path, sock: Path) -> None:
    with serving(sock, "--no-prewarm"), raw(sock) as s:
        hello(s, demo)
        info = result(call(s, m.SNIPPET_INFO, {"code": "#check Nat"}))
        assert info["project"] is None and info["imports"] == []
        warmed = result(call(s, m.PREWARM, {"header": "#check Nat"}))
        assert warmed == {"sessionKey": info["sessionKey"], "started": True}
        outcome = result(call(s, m.CHECK_SNIPPET, {"code": "#check Nat\n-- sim:error"}))
        assert outcome["status"] == "errors" and outcome["sessionKey"] == info["sessionKey"]
        assert result(call(s, m.STATUS))["pool"]["counters"]["spawns"] == 1


def test_bad_snippet_params_are_invalid_params_and_the_workspace_holds(demo: Path, tmp_path: Path, sock: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serving(sock), raw(sock) as s:
        hello(s, demo)
        for method, params in [
            (m.SNIPPET_INFO, {}),
            (m.CHECK_SNIPPET, {"code": 3}),
            (m.CHECK_SNIPPET, {"code": "#check 1", "uri": "http://example.com/x"}),
            (m.CHECK_SNIPPET, {"code": "#check 1", "timeoutMs": -1}),
            (m.RUN_SNIPPET, {"header": "import Demo.Basic"}),
            (m.SNIPPET_INFO, {"code": "#check 1", "uri": elsewhere.as_uri()}),
        ]:
            reply = call(s, method, params)
            assert reply["error"]["code"] == m.INVALID_PARAMS, (method, params, reply)  # type: ignore[index]
        assert "result" in call(s, m.STATUS)
