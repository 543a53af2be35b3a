"""Snippets: pieces of Lean with their own header, checked in warm sessions like files.

A snippet is elaborated as a file of its project that no library builds would be: its header's
imports in header order (duplicates dropped) with their flags, the package's own Lake options
(`lake.options.effective_options` without a target, as Lake elaborates a file outside every
library), no target, the project's toolchain and REPL. So a snippet's session key is the key the
planner gives such a file, and snippets with equal headers share one warm worker. Outside any
project a snippet runs on the bare toolchain: the REPL named by the engine's setting,
`$LEAN_BATCHD_REPL` or PATH, run directly (no `lake env`), in a session whose key has no project
(root `/`, where its worker runs), no package and no options.

A snippet's outcome is a file's (`FileOutcome`): the same elaboration path (`plan.elaboration`:
a `module` header runs whole in `lean --json`), the same build check of its imports inside a
project, the same timeouts and pool rules. Its positions are the snippet's own. Inside a project
it passes through `elaborate.check_file` as a file would, at a path that names no file
(`snippet_path`: in the project's root, named by the snippet's text), and so through the
project's result cache: the cache keeps a few outcomes per path, so each text keeps its own,
and equal texts (whatever their ids) share them. Bare-toolchain snippets are not cached
(there is no project store for them).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..lake.header import START, Header, parse_header_text
from ..lake.names import escape_part
from ..lake.options import effective_options
from ..plan.elaboration import Elaboration, ElaborationPath, elaboration_of
from ..plan.keys import Profile, SessionKey, header_imports
from ..plan.planner import DEFAULT_PROTOCOL, PlanConfig, session_key
from ..plan.work import ModuleWork
from ..workers.locate import Located, ReplFound, ReplMismatch, ReplNotFound, find_repl
from .elaborate import check_file, header_errors, header_failed, header_messages, lean_on_text
from .managed import ManagedProject, model_thread
from .outcome import FileOutcome, outcome_of
from .snapshot import Session
from .values import EngineError, ErrorKind, FileMessage, RunResult

if TYPE_CHECKING:
    from .engine import Engine


def snippet_path(root: str, code: str) -> str:
    """Where a snippet sits in its project (no file is read or written there): what Lean names its
    main module from (`lean --json`), and the path its stored outcomes are kept under."""
    return os.path.join(root, f"_Snippet_{hashlib.sha256(code.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}.lean")


BARE_ROOT = "/"
"""The project root of a bare-toolchain session: none (its worker runs in `/`)."""
BARE_LEAN_COMMAND = ("lean",)
"""Runs a bare `module` snippet: Lean itself, with no Lake around it."""


@dataclass(frozen=True, slots=True)
class SnippetSession:
    """Where a snippet runs: its project (None on the bare toolchain) and its session."""

    managed: ManagedProject | None
    session: Session
    path: str
    """The snippet's place (`snippet_path`)."""

    @property
    def key(self) -> SessionKey:
        return self.session.key

    @property
    def elaboration(self) -> Elaboration:
        key = self.key
        return elaboration_of(key.is_module, key.options, key.toolchain)

    def to_json(self, worker_state: str = "cold") -> dict[str, object]:
        work = self.session.work
        end = work.header_end
        return {
            "sessionKey": self.key.digest,
            "project": None if self.managed is None else str(self.managed.root),
            "imports": [i.render() for i in self.key.imports],
            "isModule": self.key.is_module,
            "prelude": self.key.prelude,
            "headerEnd": {"line": end.line if end else 1, "column": end.column if end else 0},
            "closureSize": self.session.closure_size,
            "elaboration": self.elaboration.to_json(),
            "options": dict(self.key.options),
            "workerState": worker_state,
        }


def snippet_header(code: str) -> Header:
    return parse_header_text(code, "<snippet>")


class Snippets:
    """The engine's snippet door (`Engine.snippets`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._bare_repl: Located | None = None

    async def session(self, code: str, folder: str | None) -> SnippetSession | EngineError:
        """The session `code` needs in the project holding `folder` (None: the bare toolchain);
        an error when no worker can start for it (no project there, no Lean REPL)."""
        header = snippet_header(code)
        if folder is None:
            return self._bare(header, code)
        managed = await self.engine.project_for(folder)
        if isinstance(managed, EngineError):
            return managed
        missing = await self.engine.repl_problem(folder)
        if missing is not None:
            return missing
        path = snippet_path(str(managed.root), code)
        async with managed.lock:
            session = await model_thread(_project_session, managed, header, path)
        return SnippetSession(managed, session, path)

    async def info(self, code: str, folder: str | None) -> dict[str, object] | EngineError:
        """What `session` finds, with the state of the worker holding it (`cold`: none)."""
        got = await self.session(code, folder)
        if isinstance(got, EngineError):
            return got
        worker = self.engine.worker_of(got.key)
        return got.to_json(str(worker.state) if worker is not None else "cold")

    def _bare(self, header: Header, code: str) -> SnippetSession | EngineError:
        repl = self._repl()
        if isinstance(repl, ReplNotFound):
            return EngineError(ErrorKind.NO_REPL, repl.message())
        if isinstance(repl, ReplMismatch):
            return EngineError(ErrorKind.REPL_MISMATCH, repl.message())
        path = snippet_path(BARE_ROOT, code)
        work = _work(header, path, ())
        key = SessionKey(
            project_root=BARE_ROOT,
            package="",
            target=None,
            source_root=".",
            is_module=work.is_module,
            prelude=work.prelude,
            imports=work.imports,
            profile=Profile.HEADER,
            toolchain=f"|{repl.lean_version or ''}",
            protocol=DEFAULT_PROTOCOL,
            restart_policy=PlanConfig().restart_policy.digest,
            worker_command=repl.command,
        )
        return SnippetSession(None, Session(path, work, key, 0, True), path)

    def _repl(self) -> Located:
        """The bare toolchain's REPL (the engine's own command when it has one): found once."""
        if self._bare_repl is None:
            command = self.engine.config.worker_command
            if command is not None:
                self._bare_repl = ReplFound(command, command[-1], "the engine's configuration", None, "not asked")
            else:
                self._bare_repl = find_repl(Path(BARE_ROOT), self.engine.config.repl_setting, under_lake=False)
        return self._bare_repl

    async def check(
        self,
        code: str,
        folder: str | None,
        timeout: float | None = None,
        build_check: bool = True,
        cache: bool = True,
    ) -> FileOutcome | EngineError:
        """The snippet's outcome, as a file's would be (`path` is its place, `module` None); with
        `cache`, inside a project, from its store while nothing it depends on has changed (the
        same key as a file's: its text, session, imports' closures, programs, Lake's config)."""
        got = await self.session(code, folder)
        if isinstance(got, EngineError):
            return got
        if got.managed is not None:
            results = self.engine.result_store(got.managed.root) if cache else None
            return await check_file(
                self.engine, got.managed, got.session, got.path, timeout, build_check, None, results, text=code
            )
        elaboration = got.elaboration
        refused = await self._refused(got, code)
        if refused:
            return header_failed(got.path, None, got.key.digest, refused, self.engine.config.simulated, elaboration)
        if elaboration.path is ElaborationPath.LEAN:
            command = self.engine.config.lean_command or BARE_LEAN_COMMAND
            result: RunResult | EngineError = await lean_on_text(
                self.engine, got.session, got.path, code, BARE_ROOT, BARE_ROOT, command, timeout
            )
        else:
            result = await self.engine.elaborate_text(got.session, got.path, code, None, timeout)
        return result if isinstance(result, EngineError) else outcome_of(result, None, elaboration)

    async def run(
        self, header: str, command: str, folder: str | None, timeout: float | None = None
    ) -> RunResult | EngineError:
        """`command` on the warm session of `header` (a header's text: `import A`...), as `run`
        runs a command in a file's session; positions are the command's own."""
        got = await self._accepted(header, folder)
        if isinstance(got, EngineError):
            return got
        at_start = replace(got.session, work=replace(got.session.work, header_end=START))
        return await self.engine.elaborate_text(at_start, got.path, command, None, timeout)

    async def prewarm(self, header: str, folder: str | None) -> SnippetSession | EngineError:
        """Start the session of `header` in the background; returns at once."""
        got = await self._accepted(header, folder)
        if not isinstance(got, EngineError):
            self.engine.executor.prewarm(got.key, got.session.closure_size)  # where sessions run
        return got

    async def _refused(self, got: SnippetSession, code: str) -> list[FileMessage]:
        """Why Lean would refuse `code`'s header (`elaborate.header_errors`); on the bare toolchain,
        where no project says which modules exist, only a header that does not parse."""
        if got.managed is not None:
            return await header_errors(got.managed, got.path, code)
        return header_messages(snippet_header(code).diagnostics, code)

    async def _accepted(self, header: str, folder: str | None) -> SnippetSession | EngineError:
        """The session of `header`, unless Lean would refuse the header: no session is started
        for imports that cannot load (a header-failed error saying why)."""
        got = await self.session(header, folder)
        if isinstance(got, EngineError):
            return got
        refused = await self._refused(got, header)
        if refused:
            where = "; ".join(f"{m.range.start_line + 1}:{m.range.start_character}: {m.text}" for m in refused)
            return EngineError(ErrorKind.HEADER_FAILED, f"Lean would refuse this header: {where}")
        return got


def _work(header: Header, path: str, options: tuple[tuple[str, bool | int | str], ...]) -> ModuleWork:
    return ModuleWork(
        module=escape_part(Path(path).stem),
        path=path,
        source_root=".",
        imports=header_imports(header.imports),
        is_module=header.is_module,
        prelude=header.prelude,
        library=None,
        header_end=header.end,
        options=options,
    )


def _project_session(managed: ManagedProject, header: Header, path: str) -> Session:
    """A file of the project outside every library (call with the project's lock held)."""
    project = managed.project
    work = _work(header, path, effective_options(project.layout.config.lean))
    key = session_key(work, managed.context(), managed.plan_config)
    size = managed.context().closures().closure_of(i.module for i in key.imports).bit_count()
    return Session(path, work, key, size, True)
