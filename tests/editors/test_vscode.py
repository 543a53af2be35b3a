"""The VS Code extension: type-check, its vitest suite (unit tests against a stub `vscode`,
and the end-to-end test against the real daemon), the bundle, and the `.vsix`."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, missing, run

EXTENSION = REPO / "editors/vscode"


@pytest.fixture(scope="module")
def npm() -> str:
    """npm, with the extension's locked packages installed when they are missing or stale.

    `npm install`, not `npm ci`: vite lists a Windows-only optional package that the
    registry here does not serve, which `npm ci` refuses and `npm install` skips."""
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed (Node.js 20 and npm come from the distribution's packages)")
        raise AssertionError("unreachable")
    installed = EXTENSION / "node_modules/.package-lock.json"
    lock = EXTENSION / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run([npm, "install", "--no-audit", "--no-fund"], EXTENSION, timeout=900)
    return npm


def test_typescript_type_checks(npm: str) -> None:
    run([npm, "run", "typecheck"], EXTENSION, timeout=300)


def test_vitest_suite_passes_against_the_real_daemon(npm: str) -> None:
    output = run([npm, "test"], EXTENSION, timeout=600, env={"LEAN_BATCHD_PYTHON": sys.executable})
    assert "e2e.test.ts" in output and " failed" not in output


def test_bundle_loads_and_package_holds_it(npm: str, tmp_path: Path) -> None:
    run([npm, "run", "bundle"], EXTENSION, timeout=300)
    stub = tmp_path / "vscode-stub.js"
    esbuild = EXTENSION / "node_modules/.bin/esbuild"
    run([str(esbuild), "test/vscode-stub.ts", "--format=cjs", f"--outfile={stub}"], EXTENSION, timeout=120)
    probe = tmp_path / "probe.js"
    probe.write_text(
        "const Module = require('module');\n"
        "const load = Module._load;\n"
        f"const known = require({json.dumps(str(stub))});\n"
        "// vscode-languageclient subclasses VS Code classes at load time: unknown names are empty classes\n"
        "const stub = new Proxy(known, { get: (t, k) => (k in t ? t[k] : class {}) });\n"
        "Module._load = function (request, ...rest) {\n"
        "  return request === 'vscode' ? stub : load.call(this, request, ...rest);\n"
        "};\n"
        f"const ext = require({json.dumps(str(EXTENSION / 'dist/extension.js'))});\n"
        "console.log(typeof ext.activate);\n"
    )
    assert run(["node", str(probe)], tmp_path, timeout=60).strip() == "function"
    run([npm, "run", "package"], EXTENSION, timeout=300)
    with zipfile.ZipFile(EXTENSION / "dist/lean-batchd.vsix") as vsix:
        names = set(vsix.namelist())
        manifest = json.loads(vsix.read("extension/package.json"))
    assert {"extension/dist/extension.js", "extension/package.json"} <= names
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)
    assert manifest["main"] == "./dist/extension.js"
    assert "languages" not in manifest["contributes"]
