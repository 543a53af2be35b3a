"""The VS Code extension: type-check, its vitest suite (unit tests against a stub `vscode`,
and the end-to-end test against the real daemon), the bundle, and the `.vsix`. The same
extension in a real VS Code: test_vscode_real.py."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from .conftest import EXTENSION, REPO, run

LOCK = (EXTENSION / "package-lock.json").read_bytes()
"""The lockfile as checked out: installing and packaging must leave it as it is."""


def test_packages_install_from_the_lockfile_and_leave_it_unchanged(npm: str) -> None:
    """`npm ci` refuses a lockfile out of step with package.json, and never rewrites it."""
    run([npm, "ci", "--dry-run", "--no-audit", "--no-fund"], EXTENSION, timeout=300)
    assert (EXTENSION / "package-lock.json").read_bytes() == LOCK
    tracked = run(["git", "status", "--porcelain", "--untracked-files=no", "--", "editors/vscode"], REPO, 60)
    assert "package-lock.json" not in tracked


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
