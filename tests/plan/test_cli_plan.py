"""`lean-batchd plan`: the command-line contract."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DEMO
from tests.test_cli import run


def test_plan_json_contract() -> None:
    done = run("plan", str(DEMO), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["profile"] == "header" and doc["strategy"] == "exact"
    stats = doc["stats"]
    assert set(stats) == {
        "modules", "batches", "imported_modules_total", "naive_imported_modules_total", "largest_batch", "largest_closure",
    }  # fmt: skip
    assert stats["modules"] == 10 and stats["batches"] == 9 == len(doc["batches"])
    for batch in doc["batches"]:
        assert set(batch) >= {"id", "session_key", "imports", "modules", "fingerprint"}
        assert batch["session_key"]["digest"] == batch["id"] and len(batch["id"]) == 16
    shared = next(b for b in doc["batches"] if len(b["modules"]) == 2)
    assert [m["module"] for m in shared["modules"]] == ["Demo.Algebra", "Demo.Order"]


def test_plan_json_shows_options_and_each_module_files_elaboration_path() -> None:
    """`module` files run in `lean --json` (the REPL imports their header without its main module);
    every other file in its header's warm REPL session; each session shows its options."""
    doc = json.loads(run("plan", str(DEMO), "--json").stdout)
    paths = {m["module"]: m["elaboration"] for b in doc["batches"] for m in b["modules"]}
    assert {m for m, e in paths.items() if e["path"] == "lean"} == {"Demo.Algebra", "Demo.Order"}
    assert "main module" in paths["Demo.Algebra"]["reason"]
    assert all(e["path"] == "repl" for m, e in paths.items() if m not in ("Demo.Algebra", "Demo.Order"))
    for batch in doc["batches"]:
        assert batch["options"] == {} == batch["capability"]["options"]
        assert batch["session_key"]["options"] == []
    table = run("plan", str(DEMO)).stdout
    assert table.count("[lean --json]") == 1  # the one session of module files


def test_plan_table_and_cover() -> None:
    done = run("plan", str(DEMO), "--profile", "module", "--strategy", "cover", "--max-closure", "4")
    assert done.returncode == 0
    assert "module profile, cover strategy" in done.stdout and "cover-cap-exceeded" in done.stdout


def test_plan_unknown_library_exits_1() -> None:
    done = run("plan", str(DEMO), "--library", "Nope")
    assert done.returncode == 1 and "unresolved-target" in done.stdout


def test_plan_no_project_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert run("plan", str(tmp_path)).returncode == 2


def test_plan_json_shows_the_lakefiles_options_in_each_session(demo: Path) -> None:
    lakefile = demo / "lakefile.toml"
    head, _, rest = lakefile.read_text().partition("[[require]]")
    lakefile.write_text(f"{head}[leanOptions]\nautoImplicit = false\nmaxSynthPendingDepth = 3\n\n[[require]]{rest}")
    doc = json.loads(run("plan", str(demo), "--json").stdout)
    strict = {"autoImplicit": False, "maxSynthPendingDepth": 3}
    assert doc["batches"] and all(b["options"] == strict for b in doc["batches"])
    assert all(b["session_key"]["options"] == [list(kv) for kv in strict.items()] for b in doc["batches"])
    before = {b["id"] for b in json.loads(run("plan", str(DEMO), "--json").stdout)["batches"]}
    assert before.isdisjoint(b["id"] for b in doc["batches"])  # the ids people see change with them
