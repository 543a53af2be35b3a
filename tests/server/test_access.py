"""What a connection may reach: nothing before a successful `initialize` (the TCP token), and only
paths inside its workspace, compared after resolving symlinks on both sides."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lean_batchd.engine import Engine, ModuleInfo
from lean_batchd.server.workspace import Workspace
from tests.conftest import DEMO
from tests.engine.test_engine import engine_run
from tests.server.conftest import SIMULATED, call, closed, hello, raw, send, serving
from tests.workers.conftest import wait_until, worker_processes

pytestmark = pytest.mark.timeout(120)

NOT_INITIALIZED = -32002
INVALID_PARAMS = -32602


def doc(path: Path) -> dict[str, object]:
    return {"textDocument": {"uri": path.as_uri()}}


def did_open(s: socket.socket, path: Path, text: str | None = None) -> None:
    item = {
        "uri": path.as_uri(),
        "languageId": "lean4",
        "version": 1,
        "text": path.read_text() if text is None else text,
    }
    send(s, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}})


def error_code(reply: dict[str, object]) -> object:
    error = reply.get("error")
    return error.get("code") if isinstance(error, dict) else None


def test_the_tcp_token_gates_every_method(tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(DEMO, other)
    run_dir = tmp_path / "xdg"
    port = _free_port()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"tcp:127.0.0.1:{port}", *SIMULATED],
        env={**os.environ, "XDG_RUNTIME_DIR": str(run_dir)},
    )
    token_file = run_dir / f"lean-batchd-{os.getuid()}" / f"tcp-{port}.token"
    try:
        assert wait_until(token_file.exists, timeout=15)
        main = other / "Main.lean"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # never initializes
            command = {"command": "leanBatchd.prewarm", "arguments": [main.as_uri()]}
            assert error_code(call(s, "workspace/executeCommand", command)) == NOT_INITIALIZED
            assert error_code(call(s, "textDocument/codeLens", doc(main))) == NOT_INITIALIZED
            assert error_code(call(s, "$/leanBatchd/run", doc(main))) == NOT_INITIALIZED
            did_open(s, main)
            assert error_code(call(s, "shutdown")) == NOT_INITIALIZED
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            assert "token" in str(hello(s, other, token="wrong")["error"])
            send(s, {"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeLens", "params": doc(main)})
            assert closed(s)  # a wrong token closes the connection
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            assert "result" in hello(s, None, token=token_file.read_text())
            status = call(s, "$/leanBatchd/status")["result"]
            assert isinstance(status, dict)
            assert status["projects"] == [] and status["pool"]["workers"] == []  # nothing was opened or started
        assert not worker_processes()
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    assert not token_file.exists()  # a clean stop takes the token with it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_without_workspace_folders_a_connection_reaches_the_projects_of_its_open_documents(
    demo: Path, tmp_path: Path, sock: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(DEMO, other)
    algebra = demo / "src/Demo/Algebra.lean"
    with serving(sock), raw(sock) as s:
        assert "result" in hello(s, None)
        refused = call(s, "$/leanBatchd/moduleInfo", doc(algebra))
        assert error_code(refused) == INVALID_PARAMS and "workspace" in str(refused["error"])
        assert call(s, "$/leanBatchd/projects")["result"] == []
        did_open(s, algebra)
        info = call(s, "$/leanBatchd/moduleInfo", doc(demo / "Main.lean"))["result"]
        assert isinstance(info, dict) and info["module"] == "Main"  # the opened document's project
        assert error_code(call(s, "$/leanBatchd/moduleInfo", doc(other / "Main.lean"))) == INVALID_PARAMS
        projects = call(s, "$/leanBatchd/projects")["result"]
        assert isinstance(projects, list) and [p["root"] for p in projects] == [str(demo)]


def test_a_workspace_opened_through_a_symlink(demo: Path, tmp_path: Path, sock: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(demo)
    through = link / "src/Demo/Algebra.lean"
    with serving(sock), raw(sock) as real, raw(sock) as linked, raw(sock) as rootless:
        hello(real, demo)
        hello(linked, link)
        hello(rootless, None)
        want = call(real, "$/leanBatchd/moduleInfo", doc(demo / "src/Demo/Algebra.lean"))["result"]
        got = call(linked, "$/leanBatchd/moduleInfo", doc(through))["result"]
        assert isinstance(want, dict) and isinstance(got, dict)
        assert got["module"] == "Demo.Algebra" and got["sessionKey"] == want["sessionKey"]
        assert got["uri"] == through.as_uri()  # answered in the client's own spelling
        ran = call(linked, "$/leanBatchd/run", {**doc(through), "command": "#check Nat"})["result"]
        assert isinstance(ran, dict) and ran["failure"] is None and ran["sessionKey"] == want["sessionKey"]
        did_open(rootless, through)
        opened = call(rootless, "$/leanBatchd/moduleInfo", doc(through))["result"]
        assert isinstance(opened, dict) and opened["sessionKey"] == want["sessionKey"] and opened["unsaved"]


def test_a_symlink_inside_the_workspace_pointing_outside_is_outside(demo: Path, tmp_path: Path, sock: Path) -> None:
    secret = tmp_path / "outside" / "Secret.lean"
    secret.parent.mkdir()
    secret.write_text("import Demo.Basic\n\ntheorem secret : True := trivial\n")
    (demo / "Evil.lean").symlink_to(secret)
    (demo / "Alias.lean").symlink_to(demo / "src/Demo/Algebra.lean")
    with serving(sock), raw(sock) as s:
        hello(s, demo)
        for method in ("$/leanBatchd/moduleInfo", "$/leanBatchd/run", "$/leanBatchd/check"):
            refused = call(s, method, doc(demo / "Evil.lean"))
            assert error_code(refused) == INVALID_PARAMS and "outside" in str(refused["error"])
        did_open(s, demo / "Evil.lean")
        assert call(s, "textDocument/codeLens", doc(demo / "Evil.lean"))["result"] == []
        alias = call(s, "$/leanBatchd/moduleInfo", doc(demo / "Alias.lean"))["result"]
        assert isinstance(alias, dict) and alias["module"] == "Demo.Algebra"
        status = call(s, "$/leanBatchd/status")["result"]
        assert isinstance(status, dict) and [p["root"] for p in status["projects"]] == [str(demo)]


def test_requests_before_initialize_on_the_unix_socket_get_32002(demo: Path, sock: Path) -> None:
    with serving(sock), raw(sock) as s:
        assert error_code(call(s, "textDocument/codeLens", doc(demo / "Main.lean"))) == NOT_INITIALIZED
        send(s, {"jsonrpc": "2.0", "method": "exit"})
        assert closed(s)  # `exit` is served before `initialize`: it closes the connection


def test_a_module_file_is_checked_against_the_workspace_without_touching_the_file_system(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the snapshot holds is keyed by its resolved path already: no `realpath` (a `lstat` per
    folder) on the loop for the files editors ask about; any other spelling is still resolved."""
    root = demo.resolve()
    order = str(root / "src/Demo/Order.lean")
    link = tmp_path / "link"
    link.symlink_to(root / "src")
    spelled = str(link / "Demo/Order.lean")
    on_loop: list[str] = []
    real = os.path.realpath

    def counted(path: str, **kwargs: bool) -> str:
        if threading.current_thread() is threading.main_thread():
            on_loop.append(path)
        return real(path, **kwargs)

    async def body(engine: Engine) -> None:
        await engine.project_for(str(root))
        workspace = Workspace()
        workspace.declare([root.as_uri()])
        monkeypatch.setattr(os.path, "realpath", counted)
        assert engine.resolved(order) and workspace.inside(order, engine.resolved(order)) == order
        info = await engine.module_info(order)
        assert isinstance(info, ModuleInfo) and info.module == "Demo.Order"
        assert on_loop == []
        assert not engine.resolved(spelled)
        assert workspace.inside(spelled, engine.resolved(spelled)) == order
        assert on_loop == [spelled]

    engine_run(body, watch=False)
