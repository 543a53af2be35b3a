"""`lean-batchd check --snippets` and `bench --snippets` as pipelines run them (SIMULATED REPL):
typed per-line errors, grouping by session key, the shared daemon, the bare toolchain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.server.conftest import serving
from tests.test_check_cli import SIM, lean_batchd
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)


def jsonl(*docs: object) -> str:
    return "".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs)


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines()]


def outcomes(stdout: str) -> dict[object, dict[str, Any]]:
    return {d["id"]: d for d in lines(stdout) if d.get("status") not in (None, "invalid")}


def test_bad_lines_get_typed_errors_and_the_rest_still_run(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        jsonl(
            {"id": "a", "code": "import Demo.Basic\ntheorem t : True := sorry"},
            "",
            "{not json",
            {"id": "a", "code": "#check Nat"},
            "[1, 2]",
            {"code": "#check Nat"},
            {"id": "nocode"},
            {"custom_id": 7, "proof": "import Demo.Basic\n#check Nat\n-- sim:error"},
            {"id": "b", "code": "import Demo.Basic\n#check Nat"},
        )
    )
    done = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo)
    assert done.returncode == 1, done.stderr
    out = lines(done.stdout)
    invalid = {d["line"]: d["error"]["kind"] for d in out if d.get("status") == "invalid"}
    assert invalid == {
        2: "empty-line",
        3: "invalid-json",
        4: "duplicate-id",
        5: "not-an-object",
        6: "missing-id",
        7: "missing-code",
    }
    duplicate = next(d for d in out if d.get("line") == 4)
    assert duplicate["id"] == "a" and "line 1" in duplicate["error"]["message"]
    ran = outcomes(done.stdout)
    assert set(ran) == {"a", 7, "b"}  # Kimina's `custom_id`/`proof`, its integer id kept as given
    assert (ran["a"]["status"], ran["a"]["sorries"], ran[7]["status"], ran["b"]["status"]) == (
        "ok", 1, "errors", "ok",
    )  # fmt: skip
    assert ran["a"]["line"] == 1 and ran[7]["line"] == 8
    # positions are the snippet's own: the sorry's declaration is on its second line
    assert ran["a"]["messages"][0]["range"]["start"]["line"] == 1
    assert len({d["sessionKey"] for d in ran.values()}) == 1  # one header, one session
    summary = out[-1]["summary"]
    assert summary["snippets"] == 3 and summary["invalidLines"] == 6 and summary["sessions"] == 1
    assert summary["statuses"]["ok"] == 2 and summary["statuses"]["errors"] == 1 and summary["simulated"]
    assert "3 snippets in 1 session" in done.stderr and "6 input lines were not snippets" in done.stderr


def test_headers_differing_in_order_or_modifiers_are_other_sessions(demo: Path) -> None:
    codes = {
        "plain": "import Demo.Basic\nimport Demo.Algebra\n#check 1",
        "twice": "import Demo.Basic\nimport Demo.Basic\nimport Demo.Algebra\n#check 2",  # duplicates dropped
        "spaced": "import  Demo.Basic -- a comment\n\nimport Demo.Algebra\n#check 3",
        "swapped": "import Demo.Algebra\nimport Demo.Basic\n#check 4",
        "public": "module\npublic import Demo.Basic\nimport Demo.Algebra\n#check 5",
        "all": "module\nimport all Demo.Basic\nimport Demo.Algebra\n#check 6",
        "module": "module\nimport Demo.Basic\nimport Demo.Algebra\n#check 7",
    }
    stdin = jsonl(*({"id": k, "code": v} for k, v in codes.items()))
    done = subprocess.run(
        [sys.executable, "-m", "lean_batchd", "check", "--snippets", "-", *SIM, "--no-daemon"],
        input=stdin, capture_output=True, text=True, timeout=180, cwd=demo, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ran = outcomes(done.stdout)
    key = {k: d["sessionKey"] for k, d in ran.items()}
    assert key["plain"] == key["twice"] == key["spaced"]
    others = [key[k] for k in ("plain", "swapped", "public", "all", "module")]
    assert len(set(others)) == len(others)
    assert ran["module"]["elaboration"]["path"] == "lean" and ran["plain"]["elaboration"]["path"] == "repl"
    assert lines(done.stdout)[-1]["summary"]["sessions"] == 5
    assert "7 snippets in 5 sessions (1 shared)" in done.stderr
    refused = subprocess.run(  # `public` and `all` need `module` first: Lean refuses the header
        [sys.executable, "-m", "lean_batchd", "check", "--snippets", "-", *SIM, "--no-daemon"],
        input=jsonl({"id": "p", "code": "public import Demo.Basic\n#check 5"}),
        capture_output=True, text=True, timeout=180, cwd=demo, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and outcomes(refused.stdout)["p"]["status"] == "header-failed"


def test_snippets_share_the_daemons_warm_workers_and_match_a_private_run(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(*({"id": i, "code": f"import Demo.Basic\n#check {i}"} for i in range(6))))
    socket = tmp_path / "d.sock"
    with serving(socket, "--no-prewarm"):
        shared = lean_batchd("check", "--snippets", str(source), *SIM, "--socket", str(socket), cwd=demo)
        assert shared.returncode == 0 and f"on the shared daemon at {socket}" in shared.stderr, shared.stderr
        status = json.loads(lean_batchd("status", "--socket", str(socket), "--json").stdout)
        (key,) = {d["sessionKey"] for d in outcomes(shared.stdout).values()}
        assert [w["sessionKey"] for w in status["pool"]["workers"]] == [key]
        assert status["pool"]["counters"]["spawns"] == 1
        again = lean_batchd("check", "--snippets", str(source), *SIM, "--socket", str(socket), cwd=demo)
        after = json.loads(lean_batchd("status", "--socket", str(socket), "--json").stdout)
        assert after["pool"]["counters"]["spawns"] == 1  # the second run imported nothing
        private = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo)
        assert "on workers of this process" in private.stderr
        mine, theirs, fresh = outcomes(shared.stdout), outcomes(again.stdout), outcomes(private.stdout)
        for i in range(6):
            assert mine[i]["messages"] == theirs[i]["messages"] == fresh[i]["messages"] != []
            assert mine[i]["sessionKey"] == fresh[i]["sessionKey"]  # one id for a session everywhere


def test_outside_a_project_snippets_run_on_the_bare_toolchain(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl({"id": "x", "code": "#check Nat"}, {"id": "y", "code": "#eval 1 -- sim:error"}))
    done = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    statuses = {s["id"]: s["status"] for s in doc["snippets"]}
    assert statuses == {"x": "ok", "y": "errors"} and doc["summary"]["sessions"] == 1
    no_project = lean_batchd("check", "--snippets", str(source), *SIM, "--project", str(tmp_path))
    assert no_project.returncode == 2 and "missing-lake-root" in no_project.stderr


def test_a_timeout_is_that_snippets_outcome_and_the_session_goes_on(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        jsonl(
            {"id": "slow", "code": "import Demo.Basic\n-- sim:hang"},
            {"id": "next", "code": "import Demo.Basic\n#check Nat"},
        )
    )
    done = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", "--timeout", "2", "-j", "1", cwd=demo)
    ran = outcomes(done.stdout)
    assert ran["slow"]["status"] == "timeout" and ran["next"]["status"] == "ok", done.stdout
    assert done.returncode == 1


def test_nothing_to_check_exits_2_and_still_reports_the_lines(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n{oops\n")
    done = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo)
    assert done.returncode == 2 and "no snippet to check" in done.stderr
    assert [d["error"]["kind"] for d in lines(done.stdout) if "error" in d] == ["empty-line", "invalid-json"]
    both = lean_batchd("check", str(demo), "--snippets", str(source), *SIM)
    assert both.returncode == 2 and "not both" in both.stderr


def test_bench_snippets_compares_a_fresh_worker_per_snippet_with_planned(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    headers = ["import Demo.Basic", "import Demo.Algebra"]
    source.write_text(jsonl(*({"id": i, "code": f"{headers[i % 2]}\ntheorem t{i} : True := sorry"} for i in range(8))))
    source.write_text(source.read_text() + "{not json\n")  # said, not silently dropped (found by a tryout)
    done = lean_batchd("bench", "--snippets", str(source), *SIM, cwd=demo)
    assert done.returncode == 0, done.stderr
    assert "lean-batchd: 1 input line was not a snippet: skipped" in done.stderr
    assert "8 snippets, jobs 2 [SIMULATED REPL: not Lean]" in done.stdout
    assert "naive (a fresh worker per snippet)" in done.stdout and "planned (2 warm sessions)" in done.stdout
    assert "outcomes: identical, snippet by snippet" in done.stdout


def test_a_second_run_answers_from_the_result_cache_until_an_import_changes(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    code = "import Demo.Basic\ntheorem t : True := sorry"
    others = [{"id": i, "code": f"import Demo.Basic\n#check {i}"} for i in range(7)]  # more than a path keeps
    source.write_text(jsonl({"id": "a", "code": code}, *others))
    first = outcomes(lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo).stdout)
    assert not any(d["cached"] for d in first.values())
    again = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo)
    second = outcomes(again.stdout)
    assert all(d["cached"] for d in second.values()) and "8 cached" in again.stderr
    for name in first:
        assert (second[name]["status"], second[name]["messages"]) == (first[name]["status"], first[name]["messages"])
    source.write_text(jsonl({"id": "same text, other id", "code": code}))
    other = outcomes(lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo).stdout)
    assert other["same text, other id"]["cached"]  # the key is the text, not the id
    bypass = outcomes(
        lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", "--no-cache", cwd=demo).stdout
    )
    assert not bypass["same text, other id"]["cached"]
    basic = demo / "src/Demo/Basic.lean"
    basic.write_text(basic.read_text() + "\ntheorem more : True := trivial\n")
    edited = outcomes(lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=demo).stdout)
    assert not edited["same text, other id"]["cached"]  # an import's content changed


def test_bare_toolchain_snippets_are_never_cached(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl({"id": "x", "code": "#check Nat"}))
    for _ in range(2):
        done = lean_batchd("check", "--snippets", str(source), *SIM, "--no-daemon", cwd=tmp_path)
        assert not outcomes(done.stdout)["x"]["cached"]
