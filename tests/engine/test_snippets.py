"""Snippets in the engine (`engine.snippets`): a file of the project that no library builds, with
Lake's package options, the build check of its imports and the elaboration path of files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from lean_batchd.engine import Engine, EngineError
from lean_batchd.engine.outcome import FileOutcome, FileStatus
from lean_batchd.engine.snippets import SnippetSession, snippet_path
from lean_batchd.plan.elaboration import ElaborationPath
from tests.engine.test_checking import build
from tests.engine.test_fidelity import config, lean_options
from tests.workers.conftest import process_table_stays_clean  # noqa: F401  (autouse: no leaked workers)

T = TypeVar("T")


def with_engine(body: Callable[[Engine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = Engine(config())
        try:
            return await body(engine)
        finally:
            await engine.close()

    return asyncio.run(main())


def snippet(code: str, folder: Path | None, build_check: bool = False) -> FileOutcome:
    async def body(engine: Engine) -> FileOutcome:
        got = await engine.snippets.check(code, None if folder is None else str(folder), build_check=build_check)
        assert isinstance(got, FileOutcome), got
        return got

    return with_engine(body)


def test_a_snippet_runs_with_the_packages_lake_options(demo: Path) -> None:
    lean_options(demo, "autoImplicit = false")
    got = snippet("import Demo.Basic\n#check 1\n-- sim:options", demo)
    assert got.status is FileStatus.OK and got.module is None
    assert [m.text for m in got.messages if m.text.startswith("options")] == ["options: autoImplicit=false (simulated)"]
    assert got.options is not None and got.options.applied == ("autoImplicit",)
    bare = snippet("#check 1\n-- sim:options", None)  # no project: no Lake, no options
    assert [m.text for m in bare.messages if m.text.startswith("options")] == ["options: none (simulated)"]


def test_a_module_snippet_runs_whole_in_lean_with_its_own_main_module(demo: Path) -> None:
    code = "module\n\npublic import Demo.Basic\n\ntheorem t : True := sorry\n-- sim:options\n"
    got = snippet(code, demo)
    assert got.elaboration is not None and got.elaboration.path is ElaborationPath.LEAN
    assert [m.text for m in got.messages if m.severity == "info"] == [
        f"options: none; main module: {Path(snippet_path(str(demo), code)).stem} (simulated)"
    ]
    (warning,) = [m for m in got.messages if m.severity == "warning"]
    assert (warning.range.start_line, got.sorries) == (4, 1)  # the snippet's own lines
    assert not Path(snippet_path(str(demo), code)).exists()  # nothing is written in the project


def test_the_build_check_judges_a_snippets_imports(demo: Path) -> None:
    code = "import Demo.Basic\n#check 1"
    missing = snippet(code, demo, build_check=True)
    assert missing.status is FileStatus.BUILD_FIRST
    assert missing.detail is not None and "lake build Demo.Basic Helper.Core" in missing.detail
    helper = demo / "vendor/helper"
    core = build(helper, "Helper.Core", helper / "Helper/Core.lean")
    build(demo, "Demo.Basic", demo / "src/Demo/Basic.lean", core)
    assert snippet(code, demo, build_check=True).status is FileStatus.OK


def test_equal_headers_share_a_session_and_one_import(demo: Path) -> None:
    async def body(engine: Engine) -> tuple[list[str], float]:
        codes = ["import Demo.Basic\n#check 1", "import  Demo.Basic\n\n-- other body\n#check 2", "import Demo.Basic"]
        keys = []
        for code in codes:
            got = await engine.snippets.check(code, str(demo), build_check=False)
            assert isinstance(got, FileOutcome) and got.status is FileStatus.OK
            keys.append(got.session_key)
        return keys, engine.pool.counters["spawns"]

    keys, spawns = with_engine(body)
    assert len(set(keys)) == 1 and spawns == 1


def test_no_project_there_is_an_error_not_a_bare_session(tmp_path: Path) -> None:
    async def body(engine: Engine) -> SnippetSession | EngineError:
        return await engine.snippets.session("#check 1", str(tmp_path))

    got = with_engine(body)
    assert isinstance(got, EngineError) and str(got.kind) == "no-project"


def test_a_header_lean_would_refuse_fails_and_starts_no_session(demo: Path) -> None:
    """Found by a new-user tryout: snippets whose header did not parse came back `ok` (the broken
    part silently left out of the session's imports), and `run` and `prewarm` with an import no
    package provides started a session as if it could load."""
    for code in ("import\n#eval 1", "import Demo.Basic Demo.\n#eval 1", "import 3Foo\n#eval 1"):
        for folder in (demo, None):  # in the project, and on the bare toolchain
            got = snippet(code, folder)
            assert got.status is FileStatus.HEADER_FAILED and got.count("error") >= 1, (code, folder, got)
    assert snippet("import Nope.Mod\n#eval 1", demo).status is FileStatus.HEADER_FAILED

    async def body(engine: Engine) -> list[object]:
        return [
            await engine.snippets.run("import Nope.Mod", "#eval 1", str(demo)),
            await engine.snippets.prewarm("import Demo.Basic\nimport", str(demo)),
            await engine.snippets.run("import", "#eval 1", None),
            engine.pool.counters["spawns"] + engine.pool.counters["prewarms"],
        ]

    *refused, started = with_engine(body)
    assert all(isinstance(r, EngineError) and str(r.kind) == "header-failed" for r in refused), refused
    assert "cannot resolve import Nope.Mod" in refused[0].message  # type: ignore[union-attr]
    assert started == 0
    assert snippet("import Demo.Basic\n#eval 1", demo).status is FileStatus.OK  # a sound header still runs
