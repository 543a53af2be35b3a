"""The store from the command line: cached outcomes marked, `--no-cache`, `cache info` and
`cache clear`, the daemon and the command line sharing one store, and a start without pygls."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.test_check_cli import SIM, lean_batchd
from tests.test_terminal import SIM as DAEMON_SIM
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def check_json(*args: str) -> dict[str, object]:
    done = lean_batchd("check", *args, *SIM, "--json")
    assert done.returncode == 0, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def cached(doc: dict[str, object]) -> list[bool]:
    files = doc["files"]
    assert isinstance(files, list)
    return [f["cached"] for f in files]


def test_a_second_check_is_answered_from_the_store_and_says_so(demo: Path) -> None:
    first = check_json(str(demo), "--no-daemon")
    assert cached(first) == [False] * 10
    second = check_json(str(demo), "--no-daemon")
    assert cached(second) == [True] * 10 and second["summary"]["cached"] == 10  # type: ignore[index]
    strip = lambda doc: [{k: v for k, v in f.items() if k not in ("cached", "elapsedMs")} for f in doc["files"]]  # noqa: E731
    assert strip(first) == strip(second)
    text = lean_batchd("check", str(demo), *SIM, "--no-daemon")
    assert "10 ok, 10 cached" in text.stdout and "cached\n" in text.stderr  # the summary and each progress line
    assert cached(check_json(str(demo), "--no-daemon", "--no-cache")) == [False] * 10
    (demo / "src/Demo/Scratch.lean").write_text((demo / "src/Demo/Scratch.lean").read_text() + "\n-- edited\n")
    edited = check_json(str(demo), "--no-daemon")
    assert [f["module"] for f in edited["files"] if not f["cached"]] == ["Demo.Scratch"]  # type: ignore[union-attr]


def test_cache_info_and_clear(demo: Path) -> None:
    empty = json.loads(lean_batchd("cache", "info", str(demo), "--json").stdout)
    assert empty["exists"] is False and empty["root"] == str(demo)
    check_json(str(demo / "DemoTest"), "--no-daemon")
    check_json(str(demo / "DemoTest"), "--no-daemon")
    info = json.loads(lean_batchd("cache", "info", "--json", str(demo / "DemoTest")).stdout)
    assert info["exists"] and info["results"] == {"simulated": 3} and info["models"] >= 1
    assert [(r["hits"], r["misses"], r["stored"]) for r in info["runs"][:2]] == [(3, 0, 0), (0, 3, 3)]
    assert info["folder"].startswith(os.environ["XDG_CACHE_HOME"]) and not info["folder"].startswith(str(demo))
    text = lean_batchd("cache", "info", str(demo)).stdout
    assert "3 hits, 0 misses (100%)" in text and "outcomes: 3 simulated" in text
    assert re.search(r"\(\d+ KB\)", text) and "(0 MB)" not in text, text  # a small store in KB, not "0 MB"
    cleared = lean_batchd("cache", "clear", str(demo))
    assert cleared.returncode == 0 and "cleared the store" in cleared.stdout
    after = json.loads(lean_batchd("cache", "info", str(demo), "--json").stdout)
    assert after["results"] == {} and after["models"] == after["answers"] == 0 and after["runs"] == []
    assert cached(check_json(str(demo / "DemoTest"), "--no-daemon")) == [False] * 3
    assert lean_batchd("cache", "info", "/").returncode == 2


def test_the_daemon_and_the_command_line_share_one_store(demo: Path, daemon: Path) -> None:
    def check(*args: str) -> list[bool]:  # the daemon's worker command: an outcome's key names it
        done = lean_batchd("check", *args, *DAEMON_SIM, "--json")
        assert done.returncode == 0, done.stderr
        return [f["cached"] for f in json.loads(done.stdout)["files"]]

    check(str(demo / "DemoTest"), "--no-daemon")  # stored by this process's engine
    assert check(str(demo / "DemoTest"), "--socket", str(daemon)) == [True] * 3  # the daemon answers from it
    check(str(demo / "src/Demo/Basic.lean"), "--socket", str(daemon))  # stored by the daemon
    assert check(str(demo / "src/Demo/Basic.lean"), "--no-daemon") == [True]
    assert check(str(demo / "DemoTest"), "--socket", str(daemon), "--no-cache") == [False] * 3


def _imported(*argv: str) -> set[str]:
    """The top-level packages a command imported (from `python -X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lean_batchd", *argv], capture_output=True, text=True, timeout=120
    )
    return {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}


def test_commands_that_serve_no_lsp_load_neither_pygls_nor_lsprotocol(demo: Path) -> None:
    lsp = {"pygls", "lsprotocol", "cattrs"}
    light = _imported("--version")
    assert not light & (lsp | {"asyncio", "sqlite3"}), light
    assert not _imported("discover", str(demo)) & (lsp | {"asyncio", "psutil", "watchdog"})
    assert not _imported("plan", str(demo)) & (lsp | {"asyncio"})
    assert not _imported("check", str(demo / "Main.lean"), *SIM, "--no-daemon") & lsp
    assert not _imported("status") & lsp
    assert not _imported("doctor", str(demo)) & lsp
    assert not _imported("cache", "info", str(demo)) & (lsp | {"asyncio"})
    probe = (
        "import sys, lean_batchd.cli, lean_batchd.server.bridge, lean_batchd.server.address; print(sorted(sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "pygls" not in loaded and "lsprotocol" not in loaded  # what `connect` runs to bridge bytes


def test_a_file_whose_name_is_not_utf8_is_stored_and_answered_again(demo: Path) -> None:
    """Found by a new-user tryout: storing its outcome raised UnicodeEncodeError out of `check`."""
    odd = os.path.join(os.fsencode(demo / "src/Demo"), b"Bad\xff.lean")
    with open(odd, "wb") as f:
        f.write(b"import Demo.Basic\n\ntheorem t : True := trivial\n")
    name = os.fsdecode(odd)
    assert cached(check_json(name, "--no-daemon")) == [False]
    assert cached(check_json(name, "--no-daemon")) == [True]
