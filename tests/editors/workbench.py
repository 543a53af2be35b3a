"""A real VS Code window for the tests: code-server on loopback, with its own user-data,
extensions and runtime folders, shown in Debian's Chromium through Playwright, and driven
the way a person drives it (Quick Open, the command palette, clicks, typing).

Every process the window starts (code-server, its extension host, the daemon's bridge, a
shared daemon, workers) carries the test run's mark and the window's `XDG_RUNTIME_DIR`:
`lean_processes` finds them, `close` ends them all and says if any was left.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from lean_batchd.server.client import DaemonClient

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

T = TypeVar("T")
EXTENSION_ID = "lean-batchd.lean-batchd"
STATUS_ITEM = "#lean-batchd\\.lean-batchd\\.leanBatchd\\.status"
RUN_MARK = "LEAN_BATCHD_TEST_RUN"


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0, every: float = 0.05) -> T:
    """Polls `probe` until it returns something truthy; fails saying what did not happen."""
    end = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s (last seen: {last!r})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Window:
    """code-server serving `folder`, one browser page on it, the extensions installed fresh."""

    def __init__(self, program: Path, home: Path, folder: Path, vsixes: list[Path], settings: dict[str, Any]) -> None:
        self.program = program
        self.home = home
        self.folder = folder
        self.user_data = home / "user-data"
        self.runtime = home / "runtime"
        self.runtime.mkdir(parents=True, mode=0o700)
        settings_file = self.user_data / "User/settings.json"
        settings_file.parent.mkdir(parents=True)
        settings_file.write_text(
            json.dumps(
                {
                    "workbench.startupEditor": "none",
                    "security.workspace.trust.enabled": False,
                    "telemetry.telemetryLevel": "off",
                    "extensions.autoUpdate": False,
                    "workbench.tips.enabled": False,
                    "editor.codeLens": True,
                    "extensions.autoCheckUpdates": False,
                    "extensions.ignoreRecommendations": True,
                    **settings,
                },
                indent=2,
            )
        )
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_RUNTIME_DIR": str(self.runtime),
        }
        self.dirs = ["--user-data-dir", str(self.user_data), "--extensions-dir", str(home / "extensions")]
        for vsix in vsixes:
            self._code_server("--install-extension", str(vsix))
        self.port = _free_port()
        self.log = open(home / "code-server.log", "wb")  # noqa: SIM115 (closed in close())
        self.server = subprocess.Popen(
            [str(self.program), *self._flags(), str(folder)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.page: Page | None = None
        wait_for(self._healthy, "code-server answering /healthz", timeout=60)

    def _flags(self) -> list[str]:
        return [
            "--bind-addr", f"127.0.0.1:{self.port}", "--auth", "none", *self.dirs,
            "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
            "--disable-getting-started-override",
        ]  # fmt: skip

    def _code_server(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.program), *self.dirs, *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, (
            f"code-server {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )

    def _healthy(self) -> bool:
        assert self.server.poll() is None, f"code-server exited {self.server.returncode} (see {self.log.name})"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    # -- the browser ---------------------------------------------------------------------

    def show(self, browser: Browser) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"http://127.0.0.1:{self.port}/?folder={self.folder}")
        page.wait_for_selector(".monaco-workbench .part.editor", timeout=60_000)
        page.wait_for_selector(".explorer-folders-view .monaco-list-row", timeout=60_000)
        self.page = page
        return page

    @property
    def p(self) -> Page:
        assert self.page is not None
        return self.page

    def open_file(self, relative: str) -> None:
        """Quick Open, as a person would: Ctrl+P, the path, Enter."""
        name = Path(relative).name
        folder = str(Path(relative).parent)
        self._quick_input("Control+P", relative)
        first = self.p.locator(".quick-input-list .monaco-list-row").first
        wait_for(
            lambda: first.count() and f"{name}{folder}" in first.inner_text(), f"Quick Open lists {relative} first"
        )
        self.p.keyboard.press("Enter")
        self.p.locator(f'.tabs-container .tab.active[aria-label^="{name}"]').wait_for()
        self.p.locator(".monaco-editor .view-lines").first.wait_for()

    def command(self, title: str) -> None:
        """Runs a palette command by its title (F1, the title, Enter)."""
        self._quick_input("F1", f">{title}")
        first = self.p.locator(".quick-input-list .monaco-list-row").first
        wait_for(lambda: first.count() and first.inner_text().startswith(title), f"the palette lists {title} first")
        self.p.keyboard.press("Enter")

    def _quick_input(self, key: str, text: str) -> None:
        """Opens Quick Open or the palette with `key` and types `text` into it."""
        widget = self.p.locator(".quick-input-widget")
        self.p.mouse.move(700, 400)  # off the side bar: no hover over the keyboard's way
        for _ in range(3):
            self.p.keyboard.press("Escape")
            self.p.keyboard.press(key)
            try:
                widget.wait_for(state="visible", timeout=3000)
                break
            except Exception:  # the key went to a widget that was closing; press it again
                continue
        widget.locator("input").fill(text)

    def status(self) -> str:
        item = self.p.locator(STATUS_ITEM)
        return item.inner_text() if item.count() else ""

    def lenses(self) -> list[str]:
        return [t.strip() for t in self.p.locator(".codelens-decoration").all_inner_texts()]

    def lens(self) -> str:
        texts = self.lenses()
        return texts[0] if texts else ""

    def notifications(self) -> list[str]:
        return [t.strip() for t in self.p.locator(".notifications-toasts .notification-toast").all_inner_texts()]

    def panel_text(self) -> str:
        lines = self.p.locator(".part.panel .monaco-editor .view-lines")
        return "\n".join(lines.all_inner_texts()).replace("\u00a0", " ")

    def batches(self) -> Any:
        """The "Lean batches" view's pane, expanded, with the Explorer's other sections collapsed
        so that it has the room (a tree only renders the rows in sight)."""
        pane = self.p.locator(".pane", has=self.p.locator(".pane-header", has_text="Lean batches"))
        pane.locator(".pane-header").wait_for()
        for header in self.p.locator(".part.sidebar .pane-header").all():
            wanted = "lean batches" in header.inner_text().lower()
            if (header.get_attribute("aria-expanded") == "true") != wanted:
                header.click()
        return pane

    def set_setting(self, key: str, value: str) -> None:
        """Changes an enum setting in the Settings editor (Ctrl+,), as a person would."""
        self.p.keyboard.press("Escape")
        self.p.keyboard.press("Control+Comma")
        search = self.p.locator(".settings-editor .suggest-input-container textarea").first
        search.fill(key)
        choice = self.p.locator(".settings-editor .setting-item-enum select")
        wait_for(lambda: choice.count() == 1, f"the Settings editor shows {key} alone")
        choice.select_option(value)

    def tree_row(self, pane: Any, label: str) -> Any:
        """The row of a tree view whose label is exactly `label`."""
        name = self.p.locator(".label-name", has_text=re.compile(f"^{re.escape(label)}$"))
        return pane.locator(".monaco-list-row").filter(has=name)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.p.screenshot(path=str(path))

    # -- processes and logs --------------------------------------------------------------

    def lean_processes(self) -> list[psutil.Process]:
        """This window's lean-batchd processes (bridge, daemon, workers), by the run's mark."""
        mark = os.environ.get(RUN_MARK)
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if not _is_lean_batchd(proc.info["cmdline"] or []):
                    continue
                env = proc.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if env.get(RUN_MARK) == mark and env.get("XDG_RUNTIME_DIR") == str(self.runtime):
                found.append(proc)
        return found

    def daemons(self) -> list[psutil.Process]:
        """Shared daemons (`serve --listen`) of this window."""
        return [p for p in self.lean_processes() if _has(p, "serve") and _has(p, "--listen")]

    def extension_log(self) -> str:
        """The extension's output channel as the extension host logged it."""
        logs = sorted(self.user_data.glob(f"logs/*/exthost*/{EXTENSION_ID}/*.log"))
        return "\n".join(f"== {log}\n{log.read_text(errors='replace')}" for log in logs)

    def stop_shared_daemon(self) -> None:
        """The shared daemon outlives the window by design: ask it to stop, as `Restart daemon` does."""
        for sock in self.runtime.glob("lean-batchd-*/*.sock"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(sock))
            except OSError:
                s.close()
                continue
            client = DaemonClient(s)
            with contextlib.suppress(OSError, RuntimeError, ConnectionError):
                client.session()
                client.request("$/leanBatchd/stopDaemon", {})
            s.close()

    def close(self) -> list[str]:
        """Ends the browser page, code-server with everything it started, and the shared daemon.

        code-server's whole process group (extension host, the daemon's bridge) is killed at
        once: stopped gently, the language client would see its connection close and start a
        new bridge, and so a new daemon. Returns the processes that were still there after
        the daemon was asked to stop (none, normally), after killing them."""
        if self.page is not None:
            with contextlib.suppress(Exception):
                self.page.context.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(15)
        self.log.close()
        self.stop_shared_daemon()
        left: list[psutil.Process] = []
        end = time.monotonic() + 15
        while time.monotonic() < end:
            left = [p for p in self.lean_processes() if _alive(p)]
            if not left:
                return []
            time.sleep(0.1)
        names = [" ".join(p.cmdline()) for p in left]
        for proc in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        return names


def _alive(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return proc.status() != psutil.STATUS_ZOMBIE
    return False


def _is_lean_batchd(cmdline: list[str]) -> bool:
    """`lean-batchd ...`, `python [-P] -m lean_batchd ...`, or a worker (`python -m lean_batchd.testing.repl`)."""
    return any(a.endswith("/lean-batchd") or a.startswith("lean_batchd") for a in cmdline[:4])


def _has(proc: psutil.Process, arg: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return arg in proc.cmdline()
    return False


def args_after(proc: psutil.Process, marker: str) -> list[str]:
    """The arguments of a `lean-batchd` process after its program (`connect ...`, `serve ...`)."""
    cmdline = proc.cmdline()
    for i, arg in enumerate(cmdline):
        if re.search(r"(^|/)lean-batchd$", arg) or arg == "lean_batchd":
            return cmdline[i + 1 :]
    raise AssertionError(f"not a lean-batchd command line: {cmdline} ({marker})")
