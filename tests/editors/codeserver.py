"""code-server 4.100.3 (VS Code 1.100.3 served to a browser) for the real-VS-Code suite.

Installed from npm into a cache folder and kept there between runs. Its install scripts
would download ripgrep and prebuilt native modules from hosts this project cannot reach, so
the packages are installed with `--ignore-scripts` and those steps are done here instead:
Debian's `rg`, the native modules rebuilt with node-gyp against the system Node's headers,
and the links code-server's own `postinstall.sh` makes. The result is the same tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

VERSION = "4.100.3"
NODE_MAJOR = "20"
"""code-server 4.100 is the newest release that runs on Node 20 (Debian's and CI's)."""

NATIVE_MODULES = ("kerberos", "@parcel/watcher", "@vscode/deviceid", "@vscode/spdlog", "native-watchdog", "node-pty")
"""VS Code's native modules that Linux loads (the `@vscode/windows-*` ones are Windows-only)."""

NODE_HEADERS = Path("/usr/include/node/node_api.h")


def cache_root() -> Path:
    """`$LEAN_BATCHD_EDITOR_CACHE`, else `$XDG_CACHE_HOME/lean-batchd`, else `~/.cache/lean-batchd`."""
    explicit = os.environ.get("LEAN_BATCHD_EDITOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lean-batchd"


def missing_tools() -> str | None:
    """Why code-server cannot be installed here (with what installs it), or None."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return "Node.js 20 and npm are not installed (apt-get install nodejs npm)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if not version.startswith(f"v{NODE_MAJOR}."):
        return f"code-server {VERSION} needs Node.js {NODE_MAJOR}, found {version or 'none'}"
    needs = {
        "rg": "apt-get install ripgrep",
        "g++": "apt-get install build-essential",
        "make": "apt-get install build-essential",
        "python3": "apt-get install python3",
        "pkg-config": "apt-get install pkg-config",
    }
    for tool, how in needs.items():
        if shutil.which(tool) is None:
            return f"{tool} is not installed ({how}); code-server's native modules need it"
    if not NODE_HEADERS.exists():
        return f"Node.js headers are missing ({NODE_HEADERS}; they come with Debian's nodejs package)"
    if not Path("/usr/include/gssapi/gssapi.h").exists():
        return "Kerberos headers are missing (apt-get install libkrb5-dev); code-server's `kerberos` module needs them"
    return None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One installer at a time per cache folder (parallel test runs share it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path, log: list[str], timeout: float = 900) -> None:
    env = {
        **os.environ,
        "npm_config_nodedir": "/usr",  # node-gyp builds against Debian's Node headers: no header download
        "npm_config_yes": "true",  # node-pty's install step calls `npx node-gyp`
        "npm_config_update_notifier": "false",
    }
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    log.append(f"$ {' '.join(cmd)}  (in {cwd})\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def _link(target: str, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _build(prefix: Path, log: list[str]) -> None:
    npm = ["npm", "--no-audit", "--no-fund"]
    _run([*npm, "install", "--prefix", str(prefix), "--ignore-scripts", f"code-server@{VERSION}"], prefix, log)
    server = prefix / "node_modules/code-server"
    vscode = server / "lib/vscode"
    _run([*npm, "rebuild", "argon2"], prefix, log)
    _run([*npm, "install", "--omit=dev", "--ignore-scripts"], vscode, log)
    _run([*npm, "rebuild", *NATIVE_MODULES], vscode, log)
    ripgrep = vscode / "node_modules/@vscode/ripgrep/bin"
    ripgrep.mkdir(parents=True, exist_ok=True)
    rg = shutil.which("rg")
    assert rg is not None
    shutil.copy2(rg, ripgrep / "rg")
    _link("node_modules", vscode / "node_modules.asar")
    _link("code-linux.sh", vscode / "bin/remote-cli/code-server")
    _link("browser-linux.sh", vscode / "bin/helpers/browser.sh")
    _run([*npm, "install", "--omit=dev", "--ignore-scripts"], vscode / "extensions", log)


def install(root: Path | None = None) -> Path:
    """The `code-server` program, installed into the cache first if it is not there yet.

    A half-finished install never counts: the tree is built in a scratch folder and renamed
    into place when complete. Raises RuntimeError with the failing step's output."""
    root = root or cache_root()
    home = root / f"code-server-{VERSION}"
    program = home / "node_modules/.bin/code-server"
    with _locked(root):
        if program.exists():
            return program
        scratch = Path(tempfile.mkdtemp(prefix="code-server-", dir=root))
        log: list[str] = []
        try:
            _build(scratch, log)
        except BaseException:
            (root / "install.log").write_text("\n".join(log))
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        (scratch / "install.log").write_text("\n".join(log))
        shutil.rmtree(home, ignore_errors=True)
        scratch.rename(home)
    return program
