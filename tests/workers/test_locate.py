"""Finding the REPL: setting, $LEAN_BATCHD_REPL, the project's REPL package (by the manifest's
names), PATH; and knowing its Lean version, so that one built for another Lean is never used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lean_batchd.lake import discover
from lean_batchd.lake.project import LakeProject, ProjectOptions
from lean_batchd.lake.workspace import WorkspaceOptions
from lean_batchd.workers.locate import (
    ReplFound,
    ReplMismatch,
    ReplNotFound,
    explain_import_failure,
    find_repl,
    olean_lean_version,
)
from tests.conftest import DEMO


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def olean(path: Path, version: str) -> Path:
    """An `.olean` header as Lean writes it (format 2): marker, format, flags, version, githash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"olean" + bytes([2, 0]) + version.encode().ljust(33, b"\0") + b"0" * 40 + bytes(8))
    return path


def built_repl(root: Path, version: str) -> Path:
    """A REPL checkout built by Lake: the binary and the `.olean` files of its library."""
    olean(root / ".lake/build/lib/lean/REPL/Main.olean", version)
    return executable(root / ".lake/build/bin/repl")


def project(tmp_path: Path, toolchain: str = "leanprover/lean4:v4.24.0", repl_name: str = "REPL") -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "lean-toolchain").write_text(toolchain + "\n")
    manifest = {
        "version": "1.1.0",
        "packagesDir": ".lake/packages",
        "packages": [
            {"type": "git", "name": repl_name, "url": "https://github.com/leanprover-community/repl", "rev": "x"}
        ],
    }
    (root / "lake-manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture
def path_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    executable(bin_dir / "lake")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("LEAN_BATCHD_REPL", raising=False)
    return bin_dir


def test_order_names_from_the_manifest_and_lake_env(
    tmp_path: Path, path_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's REPL is the package the manifest names (`REPL`, as the REPL declares
    itself), in the folder Lake gives it: not a guessed lowercase `repl` folder."""
    lake = path_dir / "lake"
    on_path = executable(path_dir / "repl")
    root = project(tmp_path)
    found = find_repl(root)
    assert isinstance(found, ReplFound) and found.command == (str(lake), "env", str(on_path))
    built_repl(root / ".lake/packages/repl", "4.24.0")  # a folder Lake would not have made
    found = find_repl(root)
    assert isinstance(found, ReplFound) and found.binary == str(on_path)
    built = built_repl(root / ".lake/packages/REPL", "4.24.0")
    found = find_repl(root)
    assert isinstance(found, ReplFound) and found.command == (str(lake), "env", str(built))
    assert found.source == "the project's REPL package" and found.lean_version == "4.24.0"
    assert "build tree" in found.version_from
    from_env = executable(tmp_path / "env-repl")
    monkeypatch.setenv("LEAN_BATCHD_REPL", str(from_env))
    found = find_repl(root)
    assert isinstance(found, ReplFound) and found.binary == str(from_env)
    assert found.lean_version is None  # no build tree: unknown, not wrong
    setting = executable(tmp_path / "setting-repl")
    found = find_repl(root, str(setting))
    assert isinstance(found, ReplFound) and found.binary == str(setting)
    found = find_repl(root, str(setting), under_lake=False)
    assert isinstance(found, ReplFound)
    assert found.command == (str(setting),)


def test_a_repl_of_another_lean_is_a_typed_mismatch(tmp_path: Path, path_dir: Path) -> None:
    root = project(tmp_path)
    stale = built_repl(root / ".lake/packages/REPL", "4.22.0")
    found = find_repl(root)
    assert isinstance(found, ReplMismatch)
    message = found.message()
    assert "4.22.0" in message and "leanprover/lean4:v4.24.0" in message and "tag v4.24.0" in message
    assert str(stale) in message
    matching = built_repl(tmp_path / "elsewhere", "4.24.0")
    shutil.copy(matching, path_dir / "repl")  # no build tree around it: its version is unknown, so usable
    found = find_repl(root)
    assert isinstance(found, ReplFound) and found.source == "`repl` on PATH"
    explicit = find_repl(root, str(stale))  # named explicitly: reported, never swapped for another
    assert isinstance(explicit, ReplMismatch) and explicit.source == "the repl setting"
    unbuilt = executable(tmp_path / "own/.lake/build/bin/repl")  # no .olean: its lean-toolchain says
    (tmp_path / "own/lean-toolchain").write_text("leanprover/lean4:v4.23.0\n")
    mismatch = find_repl(root, str(unbuilt))
    assert isinstance(mismatch, ReplMismatch) and mismatch.repl_version == "4.23.0"
    assert "lean-toolchain" in mismatch.version_from


def test_not_found_says_where_it_looked_and_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LEAN_BATCHD_REPL", str(tmp_path / "nope"))
    found = find_repl(tmp_path)
    assert isinstance(found, ReplNotFound) and found.missing_lake
    message = found.message()
    assert "LEAN_BATCHD_REPL" in message and str(tmp_path / "nope") in message
    assert "lake build repl" in message and "elan" in message and "`lake` is not on PATH" in message


def test_an_import_failing_on_an_olean_of_another_lean_is_explained(tmp_path: Path) -> None:
    written = olean(tmp_path / ".lake/build/lib/lean/Demo/Basic.olean", "4.22.0")
    raw = f"failed to read file '{written}', incompatible header"
    explained = explain_import_failure(raw, "leanprover/lean4:v4.24.0|")
    assert explained.startswith(f"{written} was written by Lean 4.22.0")
    assert "`lake build`" in explained and "tag v4.24.0" in explained and raw in explained
    assert olean_lean_version(written) == "4.22.0"
    assert explain_import_failure("unknown module prefix 'Foo'", "leanprover/lean4:v4.24.0") == (
        "unknown module prefix 'Foo'"
    )


def test_lean_version_is_asked_in_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """elan's `lean` runs the toolchain of the folder it runs in: the session key's toolchain must
    come from the project's root, not from wherever the daemon was started."""
    bin_dir = tmp_path / "bin"
    executable(bin_dir / "lean", '#!/bin/sh\necho "Lean (from $(cat lean-toolchain 2>/dev/null || echo none))"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.chdir(tmp_path)
    found = discover(DEMO, ProjectOptions(workspace=WorkspaceOptions(query_lean_version=True)))
    assert isinstance(found, LakeProject)
    assert found.workspace.toolchain.lean_version == "Lean (from leanprover/lean4:v4.24.0)"
