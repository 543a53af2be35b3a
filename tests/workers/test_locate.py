"""Finding the REPL: setting, then $LEAN_BATCHD_REPL, then the project's build, then PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_batchd.workers.locate import PROJECT_REPL, ReplNotFound, find_repl


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_order_and_lake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    lake = executable(bin_dir / "lake")
    on_path = executable(bin_dir / "repl")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("LEAN_BATCHD_REPL", raising=False)
    project = tmp_path / "proj"
    assert find_repl(project) == (str(lake), "env", str(on_path))
    built = executable(project / PROJECT_REPL)
    assert find_repl(project) == (str(lake), "env", str(built))
    from_env = executable(tmp_path / "env-repl")
    monkeypatch.setenv("LEAN_BATCHD_REPL", str(from_env))
    assert find_repl(project) == (str(lake), "env", str(from_env))
    setting = executable(tmp_path / "setting-repl")
    assert find_repl(project, str(setting)) == (str(lake), "env", str(setting))
    assert find_repl(project, str(setting), under_lake=False) == (str(setting),)


def test_not_found_says_where_it_looked_and_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LEAN_BATCHD_REPL", str(tmp_path / "nope"))
    found = find_repl(tmp_path)
    assert isinstance(found, ReplNotFound) and found.missing_lake
    message = found.message()
    assert "LEAN_BATCHD_REPL" in message and str(tmp_path / "nope") in message
    assert "lake build repl" in message and "elan" in message and "`lake` is not on PATH" in message
