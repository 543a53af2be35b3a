"""The VS Code extension in a real VS Code: code-server 4.100.3 (VS Code 1.100.3) in Debian's
Chromium, driven through Playwright as a person drives it, with the extension packaged from
the working tree and a test-only `lean4` language stub (the Lean 4 extension, which owns that
language, is not on npm), on a copy of `examples/demo`, against the real daemon (SIMULATED REPL).

Three windows, each a fresh code-server with its own user data and `XDG_RUNTIME_DIR`:
`connect` mode (the shared daemon; most scenarios, in order), `stdio` mode, and a wrong
`leanBatchd.executable`. Each leaves a screenshot in `build/test-artifacts/vscode/` (or under
`$LEAN_BATCHD_TEST_ARTIFACTS`), and the extension's log beside it when one of its tests failed.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import codeserver
from .conftest import ARTIFACTS, EXTENSION, REPO, missing, run
from .workbench import Window, args_after, wait_for

SHOTS = ARTIFACTS / "vscode"
SERVER_ARGS = ["--simulate", "--sim-import-seconds", "0.3", "--max-workers", "4"]
"""What `leanBatchd.serverArgs` says; the daemon must get exactly these, nothing added."""
LENS_CYCLES = 20
LEMMAS = "src/Demo/Lemmas.lean"
WARM_LENS = re.compile(r"^lean-batchd: warm( ·|$)")
"""The header lens of a warm session (not `warming…`)."""


def _lean_batchd() -> str:
    """The `lean-batchd` program installed beside this Python (the venv's), as a user sets it."""
    program = Path(sys.executable).parent / "lean-batchd"
    assert program.exists(), f"{program} is missing: install the project (pip install -e '.[test]')"
    return str(program)


# -- what the windows need ---------------------------------------------------------------


@pytest.fixture(scope="module")
def code_server() -> Path:
    reason = codeserver.missing_tools()
    if reason is not None:
        missing(reason)
    try:
        return codeserver.install()
    except RuntimeError as e:
        missing(f"code-server {codeserver.VERSION} did not install from npm: {e}")
        raise AssertionError("unreachable") from e


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        missing("Chromium is not installed (apt-get install --no-install-recommends chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def vsixes(npm: str, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The extension packaged from the working tree, and the `lean4` language stub."""
    run([npm, "run", "bundle"], EXTENSION, timeout=300)
    run([npm, "run", "package"], EXTENSION, timeout=300)
    stub = tmp_path_factory.mktemp("lean4-stub")
    (stub / "package.json").write_text(
        json.dumps(
            {
                "name": "lean4-language-stub",
                "displayName": "lean4 language (test stub)",
                "description": "Test only: the `lean4` language id, as the Lean 4 extension declares it.",
                "version": "0.0.1",
                "publisher": "lean-batchd-test",
                "engines": {"vscode": "^1.91.0"},
                "contributes": {"languages": [{"id": "lean4", "aliases": ["Lean 4"], "extensions": [".lean"]}]},
            }
        )
    )
    (stub / "README.md").write_text("Test only: declares the `lean4` language for lean-batchd's editor tests.\n")
    vsce = EXTENSION / "node_modules/.bin/vsce"
    out = stub / "lean4-stub.vsix"
    run([str(vsce), "package", "--skip-license", "--allow-missing-repository", "--out", str(out)], stub, timeout=120)
    return [out, EXTENSION / "dist/lean-batchd.vsix"]


@pytest.fixture(scope="class")
def window_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vscode")


def _open(
    name: str, code_server: Path, browser: Any, vsixes: list[Path], home: Path, settings: dict[str, Any]
) -> Iterator[Window]:
    for stale in SHOTS.glob(f"{name}-*.log"):
        stale.unlink()  # logs of an earlier failed run
    folder = home / "demo"
    shutil.copytree(REPO / "examples/demo", folder)
    window = Window(code_server, home / "vscode", folder.resolve(), vsixes, settings)
    failed: list[str] = []
    window.failed = failed  # type: ignore[attr-defined]
    try:
        window.show(browser)
        yield window
    finally:
        if window.page is not None:
            window.screenshot(SHOTS / f"{name}.png")
        log = window.extension_log()
        left = window.close()
        if failed:
            SHOTS.mkdir(parents=True, exist_ok=True)
            (SHOTS / f"{name}-extension.log").write_text(log)
            shutil.copy(home / "vscode/code-server.log", SHOTS / f"{name}-code-server.log")
            print(f"extension log ({SHOTS / f'{name}-extension.log'}):\n{log[-6000:]}")
        assert not left, f"processes left behind by the {name} window: {left}"


@pytest.fixture(autouse=True)
def _note_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for name in ("connect_window", "stdio_window", "wrong_window"):
            if name in request.fixturenames:
                request.getfixturevalue(name).failed.append(request.node.name)


def _settings(**extra: Any) -> dict[str, Any]:
    return {"leanBatchd.executable": _lean_batchd(), "leanBatchd.serverArgs": SERVER_ARGS, **extra}


def _file_state(window: Window, state: str, timeout: float = 20) -> str:
    """Waits until the status bar shows the active file's session in `state`; returns its text."""
    try:
        return wait_for(lambda: _ending(window.status(), f"file: {state}"), f"status bar `file: {state}`", timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}; the status bar says {window.status()!r}, the lens {window.lens()!r}") from None


def _ending(text: str, end: str) -> str | None:
    return text if text.endswith(end) else None


def _containing(text: str, part: str) -> str | None:
    return text if part in text else None


# -- connect mode: the shared daemon ------------------------------------------------------


@pytest.fixture(scope="class")
def connect_window(code_server: Path, browser: Any, vsixes: list[Path], window_home: Path) -> Iterator[Window]:
    yield from _open("connect", code_server, browser, vsixes, window_home, _settings())


class TestConnectMode:
    def test_opening_a_lean_file_starts_one_shared_daemon_with_exactly_the_settings_arguments(
        self, connect_window: Window
    ) -> None:
        window = connect_window
        window.open_file(LEMMAS)
        assert "1 warm" in _file_state(window, "warm")
        warm = time.monotonic()
        wait_for(lambda: WARM_LENS.match(window.lens()), "the header lens shows the session warm", 5, 0.01)
        lag = time.monotonic() - warm
        print(f"first open: lens lag behind the status bar {lag:.2f} s")
        assert lag < 1.0, f"the lens lagged the status bar by {lag:.2f} s"
        assert "modules share this header" not in window.lens()  # Lemmas' header is its own
        bridges = [p for p in window.lean_processes() if "connect" in p.cmdline()]
        assert [args_after(p, "bridge") for p in bridges] == [["connect", *SERVER_ARGS]]
        daemons = window.daemons()
        assert len(daemons) == 1, [d.cmdline() for d in daemons]
        assert str(window.runtime) in " ".join(daemons[0].cmdline())
        language = window.p.locator("#status\\.editor\\.mode").inner_text()
        assert "Lean 4" in language  # the stub's language: ours declares none

    def test_batches_view_lists_projects_sessions_and_modules_and_opens_a_module(self, connect_window: Window) -> None:
        window = connect_window
        pane = window.batches()
        row = lambda label: window.tree_row(pane, label)  # noqa: E731
        project = row("demo")
        project.wait_for()
        assert "10 modules · 9 sessions" in project.inner_text()
        project.click()
        batch = row("public import Demo.Basic, import Std.Data.HashMap")
        batch.wait_for()
        assert "2 modules" in batch.inner_text()
        batch.click()
        row("Demo.Order").wait_for()
        assert row("Demo.Algebra").count() == 1
        row("Demo.Order").click()
        window.p.locator('.tabs-container .tab.active[aria-label^="Order.lean"]').wait_for()

    def test_palette_prewarm_run_status_and_evict(self, connect_window: Window) -> None:
        window = connect_window
        window.open_file(LEMMAS)
        _file_state(window, "warm")
        window.command("lean-batchd: Evict this file's session")
        _file_state(window, "cold")
        wait_for(lambda: window.lens().startswith("lean-batchd: session cold"), "the lens follows the eviction")
        window.command("lean-batchd: Prewarm imports for this file")
        _file_state(window, "warm")
        wait_for(lambda: WARM_LENS.match(window.lens()), "the lens follows the prewarm")
        window.command("lean-batchd: Run Lean command in this file's context")
        widget = window.p.locator(".quick-input-widget")
        wait_for(lambda: "Lean command in the context of" in widget.inner_text(), "the input box")
        widget.locator("input").fill("#check Nat")
        window.p.keyboard.press("Enter")
        output = wait_for(lambda: _containing(window.panel_text(), "▶ #check Nat"), "the run output")
        assert "SIMULATED REPL" in output and "Nat" in output.split("▶ #check Nat")[1]
        window.command("lean-batchd: Show status")
        output = wait_for(lambda: _containing(window.panel_text(), "lean-batchd status"), "the status output")
        assert "project demo" in output and "1 connection" in output

    def test_code_lens_follows_the_session_within_a_second_every_time(self, connect_window: Window) -> None:
        """The race of the issue, 20 times: evict, select the lens to prewarm, and as soon as the
        status bar shows the session warm, click into the Lean batches view (the editor loses
        focus: VS Code then dropped the lens's pending update). The lens must show the session
        warm within a second of the status bar."""
        window = connect_window
        pane = window.batches()
        window.open_file(LEMMAS)
        _file_state(window, "warm")
        lags = []
        for _ in range(LENS_CYCLES):
            window.command("lean-batchd: Evict this file's session")
            _file_state(window, "cold")
            wait_for(lambda: window.lens().startswith("lean-batchd: session cold"), "the lens shows the session cold")
            window.p.locator(".codelens-decoration a", has_text="prewarm").first.click()
            wait_for(lambda: _ending(window.status(), "file: warm"), "status bar `file: warm`", every=0.01)
            warm = time.monotonic()
            window.tree_row(pane, "demo").click()
            wait_for(lambda: WARM_LENS.match(window.lens()), "the lens shows the session warm", 5, 0.01)
            lags.append(round(time.monotonic() - warm, 2))
        print(f"lens lag behind the status bar (s): {lags}")
        assert max(lags) < 1.0, f"lens lag behind the status bar (s): {lags}"

    def test_unsaved_header_edit_moves_the_file_to_another_session_at_once(self, connect_window: Window) -> None:
        window = connect_window
        window.open_file("src/Demo/Scratch.lean")
        _file_state(window, "warm")
        wait_for(lambda: WARM_LENS.match(window.lens()), "Scratch's lens shows warm")
        window.p.locator(".monaco-editor .view-lines").first.click()
        window.p.keyboard.press("Control+Home")
        window.p.keyboard.press("End")
        window.p.keyboard.type("\nimport Demo.Order")
        _file_state(window, "cold", timeout=3)
        wait_for(lambda: window.lens().startswith("lean-batchd: session cold"), "the lens shows the new session", 3)

    def test_saving_a_header_edit_changes_the_batches_view(self, connect_window: Window) -> None:
        window = connect_window
        pane = window.batches()
        new_session = window.tree_row(pane, "import Demo.Basic, import Demo.Order")
        assert new_session.count() == 0
        window.open_file("src/Demo/Scratch.lean")
        window.p.keyboard.press("Control+S")
        new_session.wait_for()
        new_session.click()
        window.tree_row(pane, "Demo.Scratch").wait_for()

    def test_restart_daemon_replaces_the_shared_daemon(self, connect_window: Window) -> None:
        window = connect_window
        window.open_file(LEMMAS)
        _file_state(window, "warm")
        (before,) = window.daemons()
        window.command("lean-batchd: Restart daemon")
        wait_for(lambda: not before.is_running(), "the old daemon stopped")
        (new,) = wait_for(lambda: [d for d in window.daemons() if d.pid != before.pid], "a new daemon", 30)
        wait_for(lambda: new.children(recursive=True), "the new daemon's worker for the open file", 30)
        _file_state(window, "warm", timeout=30)
        warm = time.monotonic()
        wait_for(lambda: WARM_LENS.match(window.lens()), "the lens shows the new daemon's session warm", 5, 0.01)
        print(f"after Restart daemon: lens lag behind the status bar {time.monotonic() - warm:.2f} s")
        after = window.daemons()
        assert len(after) == 1, [d.cmdline() for d in after]
        assert list(window.runtime.glob("lean-batchd-*/*.sock")), "the new daemon's socket is gone"
        window.batches()  # the view is in the screenshot


# -- stdio mode: a private daemon ----------------------------------------------------------


@pytest.fixture(scope="class")
def stdio_window(code_server: Path, browser: Any, vsixes: list[Path], window_home: Path) -> Iterator[Window]:
    settings = _settings(**{"leanBatchd.mode": "stdio"})
    yield from _open("stdio", code_server, browser, vsixes, window_home, settings)


class TestStdioMode:
    def test_stdio_mode_runs_a_private_daemon_with_exactly_the_settings_arguments(self, stdio_window: Window) -> None:
        stdio_window.open_file(LEMMAS)
        _file_state(stdio_window, "warm")
        wait_for(lambda: WARM_LENS.match(stdio_window.lens()), "the lens shows warm")
        servers = [p for p in stdio_window.lean_processes() if "serve" in p.cmdline()]
        assert [args_after(p, "server") for p in servers] == [["serve", "--stdio", *SERVER_ARGS]]
        assert stdio_window.daemons() == [] and not list(stdio_window.runtime.glob("lean-batchd-*/*.sock"))
        stdio_window.command("lean-batchd: Run Lean command in this file's context")
        stdio_window.p.locator(".quick-input-widget input").fill("#check Nat")
        stdio_window.p.keyboard.press("Enter")
        wait_for(lambda: "▶ #check Nat" in stdio_window.panel_text(), "the run output")

    def test_changing_the_mode_setting_moves_the_window_to_the_shared_daemon(self, stdio_window: Window) -> None:
        window = stdio_window
        window.set_setting("leanBatchd.mode", "connect")
        wait_for(window.daemons, "the shared daemon", 30)
        private = lambda: [p for p in window.lean_processes() if "--stdio" in p.cmdline()]  # noqa: E731
        wait_for(lambda: not private(), "the private daemon stopped", 30)
        window.open_file(LEMMAS)
        _file_state(window, "warm", timeout=30)


# -- a wrong executable ----------------------------------------------------------------------


@pytest.fixture(scope="class")
def wrong_window(code_server: Path, browser: Any, vsixes: list[Path], window_home: Path) -> Iterator[Window]:
    settings = _settings(**{"leanBatchd.executable": "/nonexistent/lean-batchd"})
    yield from _open("wrong-executable", code_server, browser, vsixes, window_home, settings)


class TestWrongExecutable:
    def test_a_wrong_executable_shows_one_error_that_says_what_to_fix(self, wrong_window: Window) -> None:
        wrong_window.open_file(LEMMAS)
        ours = lambda: [t for t in wrong_window.notifications() if "lean-batchd" in t]  # noqa: E731
        shown = wait_for(ours, "an error message about lean-batchd")
        assert "/nonexistent/lean-batchd does not exist" in shown[0]
        assert "leanBatchd.executable" in shown[0]
        time.sleep(3)  # nothing else comes: no retries, no second message from the language client
        assert len(ours()) == 1, ours()
        assert wrong_window.lean_processes() == []
