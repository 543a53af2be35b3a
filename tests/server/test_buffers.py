"""Unsaved buffers belong to the connection that opened them, and go when it goes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import call, hello, raw, receive, send, serving
from tests.workers.conftest import wait_until

pytestmark = pytest.mark.timeout(120)


def info(s: object, path: Path) -> dict[str, object]:
    got = call(s, "$/leanBatchd/moduleInfo", {"textDocument": {"uri": path.as_uri()}})  # type: ignore[arg-type]
    result = got["result"]
    assert isinstance(result, dict), got
    return result


def open_buffers(s: object) -> int:
    status = call(s, "$/leanBatchd/status")["result"]  # type: ignore[arg-type]
    assert isinstance(status, dict)
    return sum(p["openBuffers"] for p in status["projects"])


def test_an_editors_unsaved_text_is_its_own_and_dies_with_it(demo: Path, sock: Path) -> None:
    lemmas = demo / "src/Demo/Lemmas.lean"
    text = lemmas.read_text()
    unsaved = text.replace("import Demo.Order\n", "") + "\ntheorem oops : False := by\n  -- sim:error\n"
    with serving(sock, "--no-prewarm"), raw(sock) as other:
        hello(other, demo)
        disk = info(other, lemmas)
        with raw(sock) as editor:
            hello(editor, demo)
            item = {"uri": lemmas.as_uri(), "languageId": "lean4", "version": 1, "text": unsaved}
            send(editor, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}})
            mine = info(editor, lemmas)
            assert mine["unsaved"] and mine["sessionKey"] != disk["sessionKey"]
            theirs = info(other, lemmas)
            assert not theirs["unsaved"] and theirs["sessionKey"] == disk["sessionKey"]
            assert open_buffers(other) == 1
            cli = subprocess.run(
                [sys.executable, "-m", "lean_batchd", "check", "--socket", str(sock), "--json", str(lemmas),
                 "--simulate", "--sim-import-seconds", "0.05"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert "the shared daemon" in cli.stderr, cli.stderr
            (outcome,) = json.loads(cli.stdout)["files"]
            assert outcome["status"] == "ok" and outcome["sessionKey"] == disk["sessionKey"]  # the file on disk
        # the editor went away without didClose
        assert wait_until(lambda: open_buffers(other) == 0, timeout=10)
        assert not info(other, lemmas)["unsaved"]


def diagnostics_for(s: object, uri: str, after: object) -> list[dict[str, object]]:
    """The next publishDiagnostics for `uri` (skipping other messages) once `after` was sent."""
    send(s, after)  # type: ignore[arg-type]
    while True:
        message = receive(s)  # type: ignore[arg-type]
        params = message.get("params")
        if (
            message.get("method") == "textDocument/publishDiagnostics"
            and isinstance(params, dict)
            and params["uri"] == uri
        ):
            found = params["diagnostics"]
            assert isinstance(found, list)
            return found


def test_a_header_broken_or_fixed_in_the_editor_shows_at_once_in_that_editor_only(demo: Path, sock: Path) -> None:
    """Unsaved header edits refresh the editor's diagnostics without a save (and nobody else's)."""
    lemmas = demo / "src/Demo/Lemmas.lean"
    uri, text = lemmas.as_uri(), lemmas.read_text()
    broken = "import Demo.Gone\n" + text
    with serving(sock, "--no-prewarm"), raw(sock) as editor, raw(sock) as other:
        hello(editor, demo)
        hello(other, demo)
        item = {"uri": uri, "languageId": "lean4", "version": 1, "text": text}
        send(editor, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}})
        change = {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": broken}]}
        found = diagnostics_for(editor, uri, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change})
        assert [(d["code"], d["range"]["start"]["line"]) for d in found] == [("unresolved-import", 0)]  # type: ignore[index]
        assert "Demo.Gone" in str(found[0]["message"])
        fixed = {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": text}]}
        assert (
            diagnostics_for(editor, uri, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": fixed}) == []
        )
        other.settimeout(1.0)
        with pytest.raises(TimeoutError):  # the other editor was told nothing about the unsaved text
            while True:
                message = receive(other)
                assert message.get("method") != "textDocument/publishDiagnostics" or message["params"]["uri"] != uri  # type: ignore[index]
