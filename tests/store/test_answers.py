"""Remembered answers: `discover` and `plan` run again print their last answer, without opening
the model, exactly while a rescan would change nothing; after any change, the answer a run
without the store gives."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_batchd.cli import main
from lean_batchd.store.database import StoreDatabase, store_file
from lean_batchd.store.location import project_folder
from tests.conftest import write_tree
from tests.lake.test_incremental import LAKEFILES, initial_tree
from tests.store.test_models import _apply, _op

TICK = 0.02
"""Longer than a file-system timestamp tick: with the racy window off, each change after a run
must get a timestamp of its own (the window exists for changes that do not)."""

REQUESTS = [
    ["discover", "--json"],
    ["discover"],
    ["plan", "--json"],
    ["plan", "--profile", "module", "--strategy", "cover"],
]


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


class Opens:
    """Counts how often a command opened the model (an answer from the store does not)."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        import lean_batchd.store.models as models

        self.count = 0
        real = models.open_project

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        patch.setattr(models, "open_project", counted)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("lean_batchd.lake.inputs.RACY_WINDOW_NS", 0)
    root = tmp_path / "project"
    initial_tree(root)
    time.sleep(TICK)
    return root


def test_a_second_run_answers_without_opening_the_model(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opens = Opens(monkeypatch)
    for request in REQUESTS:
        first = cli(*request, str(isolated))
        assert opens.count == 1
        assert first == cli(*request, str(isolated))
        assert opens.count == 1  # answered from the store
        assert first == cli(*request, str(isolated), "--no-store")
        opens.count = 0
    time.sleep(TICK)
    (isolated / "A/C.lean").write_text("def c := 2\ndef d := 3\n")
    code, text = cli("discover", "--json", str(isolated))
    assert opens.count == 1
    assert (code, text) == cli("discover", "--json", str(isolated), "--no-store")


@pytest.mark.parametrize(
    "change",
    ["add a module", "remove a folder's file", "add a folder", "edit a dependency", "edit the manifest"],
)
def test_each_kind_of_change_is_seen(isolated: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    before = cli("plan", "--json", str(isolated))
    assert cli("plan", "--json", str(isolated)) == before
    time.sleep(TICK)
    if change == "add a module":
        (isolated / "A/E.lean").write_text("import A.C\n")
    elif change == "remove a folder's file":
        (isolated / "A/C.lean").unlink()
    elif change == "add a folder":
        write_tree(isolated, {"A/New/F.lean": "import A.B\n"})
    elif change == "edit a dependency":
        (isolated / ".lake/packages/dep/Dep/Y.lean").write_text("import Dep.Z\n")
    else:
        (isolated / "lake-manifest.json").write_text('{"version": 7, "packages": []}\n')
    opens = Opens(monkeypatch)
    after = cli("plan", "--json", str(isolated))
    assert opens.count == 1 and after != before
    assert after == cli("plan", "--json", str(isolated), "--no-store")


def test_a_file_changed_within_the_racy_window_is_not_vouched_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "project"
    initial_tree(root)  # just written: within the window
    cli("discover", str(root))
    opens = Opens(monkeypatch)
    cli("discover", str(root))
    assert opens.count == 1


def test_cache_clear_forgets_answers_and_an_older_store_gains_the_table(isolated: Path) -> None:
    cli("discover", str(isolated))
    folder = project_folder(isolated.resolve())
    with sqlite3.connect(store_file(folder)) as conn:
        assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 1
        conn.execute("DROP TABLE answers")  # as a store written before answers were remembered
    database = StoreDatabase(folder)
    try:
        assert database.query("SELECT count(*) FROM answers") == [(0,)]
    finally:
        database.close()
    cli("discover", str(isolated))
    assert cli("cache", "clear", str(isolated))[0] == 0
    with sqlite3.connect(store_file(folder)) as conn:
        assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(LAKEFILES) - 1), st.lists(_op, min_size=1, max_size=5), st.sampled_from(REQUESTS))
def test_every_answer_is_the_one_a_run_without_the_store_gives(
    lakefile: int, ops: list[tuple[Any, ...]], request: list[str]
) -> None:
    """Runs between random edits (headers and bodies, files of a dependency, renames, deletions,
    lakefiles, toolchains): each answer equals a run's without the store, and a run right after
    another, with nothing changed, is answered without opening the model."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", os.path.join(tmp, "cache"))
        patch.setattr("lean_batchd.lake.inputs.RACY_WINDOW_NS", 0)
        root = Path(tmp, "project").resolve()
        initial_tree(root, lakefile)
        write_tree(root, {"lean-toolchain": "leanprover/lean4:v4.22.0\n"})
        state = {"lakefile": lakefile, "step": 0}
        opens = Opens(patch)
        for op in [None, *ops]:
            if op is not None:
                _apply(root, op, state)
            answer = cli(*request, str(root))
            assert answer == cli(*request, str(root), "--no-store"), op
            before = opens.count
            assert cli(*request, str(root)) == answer
            assert opens.count == before, op


def _same_as_without_store(root: Path, command: str, *options: str) -> None:
    assert cli(command, str(root), *options) == cli(command, str(root), "--no-store", *options)


def test_a_file_outside_the_roots_that_an_import_names_is_seen_when_it_appears(isolated: Path) -> None:
    """Found by review: with `--roots A`, B's folder is never walked, so nothing recorded that
    `B/Y.lean`, which `A.X` imports, was missing."""
    lakefile = 'name = "p"\n[[lean_lib]]\nname = "A"\n[[lean_lib]]\nname = "B"\n'
    write_tree(isolated, {"lakefile.toml": lakefile, "B/Z.lean": "def z := 1\n"})
    time.sleep(TICK)
    cli("discover", str(isolated), "--roots", "A")
    time.sleep(TICK)
    (isolated / "A/C.lean").write_text("import B.Y\ndef c := 1\n")
    time.sleep(TICK)
    cli("discover", str(isolated), "--roots", "A")
    time.sleep(TICK)
    write_tree(isolated, {"B/Y.lean": "def y := 1\n"})
    _same_as_without_store(isolated, "discover", "--roots", "A")


def test_a_dangling_folder_link_whose_target_appears_is_seen(isolated: Path) -> None:
    """Found by review: a link that leads nowhere is no folder and no `.lean` file, and the
    folder holding it does not change when its target appears."""
    (isolated / "A/Shared").symlink_to("../Shared")
    time.sleep(TICK)
    cli("discover", str(isolated))
    time.sleep(TICK)
    write_tree(isolated, {"Shared/S.lean": "def s := 1\n"})
    _same_as_without_store(isolated, "discover")
    assert "A.Shared.S" in cli("discover", "--json", str(isolated))[1]


def test_a_file_two_libraries_claim_counts_even_where_another_is_the_module(isolated: Path) -> None:
    """Found by review: the duplicate the model does not hold as the module was read too (its
    problems are reported), so it is an input like the module's own file."""
    lakefile = (
        'name = "p"\n[[lean_lib]]\nname = "A"\nglobs = ["A.*"]\n'
        '[[lean_lib]]\nname = "S"\nsrcDir = "src"\nglobs = ["A.+"]\n'
    )
    write_tree(isolated, {"lakefile.toml": lakefile, "src/A/C.lean": "def c := 3\n"})
    time.sleep(TICK)
    before = cli("discover", str(isolated))
    time.sleep(TICK)
    with (isolated / "A/C.lean").open("r+b") as f:
        f.truncate(70 * 1024 * 1024)  # over the size cap, in place: its folder does not change
    _same_as_without_store(isolated, "discover")
    assert cli("discover", str(isolated)) != before


def test_an_unreadable_cache_or_a_deleted_working_folder_is_no_failure(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: both raised out of the command (`exists()` on a folder this user may not
    enter; `os.getcwd()` in a deleted folder); the command runs as without a store."""
    expected = cli("discover", str(isolated), "--no-store")
    import lean_batchd.store.answers as answers

    def forbidden(folder: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(folder))

    with monkeypatch.context() as patch:
        patch.setattr(answers, "store_file", forbidden)
        assert cli("discover", str(isolated)) == expected
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert cli("discover", str(isolated)) == expected
    assert cli("discover", "gone-too")[0] == 2  # a relative path from nowhere: no project


def test_a_module_file_replaced_by_a_folder_is_an_io_error_as_on_a_fresh_discovery(isolated: Path) -> None:
    """Found by review (older than answers: a rescan dropped the module silently, a fresh
    discovery reported the folder it cannot read)."""
    cli("discover", str(isolated))
    time.sleep(TICK)
    (isolated / "Lib2.lean").unlink()
    (isolated / "Lib2.lean").mkdir()
    _same_as_without_store(isolated, "discover")
    assert "[io-error] not a regular file" in cli("discover", str(isolated))[1]


def test_the_default_packages_folder_appearing_beside_a_legacy_one_is_seen(tmp_path: Path, isolated: Path) -> None:
    """Found by review (older than answers): which of `.lake/packages`, `lake-packages` holds the
    dependencies depends on which exists, and nothing recorded that."""
    root = tmp_path / "legacy"
    manifest = '{"version": "1.1.0", "packages": [{"type": "git", "url": "u", "rev": "r", "name": "foo"}]}\n'
    write_tree(
        root,
        {
            "lakefile.toml": 'name = "p"\n[[require]]\nname = "foo"\n[[lean_lib]]\nname = "A"\n',
            "lake-manifest.json": manifest,
            "A.lean": "import Foo.B\n",
            "lake-packages/foo/lakefile.toml": 'name = "foo"\n[[lean_lib]]\nname = "Foo"\n',
            "lake-packages/foo/Foo/B.lean": "def b := 1\n",
        },
    )
    time.sleep(TICK)
    before = cli("discover", str(root))
    time.sleep(TICK)
    (root / ".lake/packages").mkdir(parents=True)
    _same_as_without_store(root, "discover")
    assert cli("discover", str(root)) != before
