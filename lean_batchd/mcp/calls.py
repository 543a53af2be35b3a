"""What every MCP tool shares: typed answers and errors, paths in the agent's workspace,
progress relayed in order, and the argument types the tools' schemas are made of."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent
from pydantic import AliasChoices, BaseModel, Field

from ..lake.header import Header, parse_header_text
from ..workers.shielding import cancel_and_wait
from .link import DaemonLink, ToolErrorKind, ToolFailure

log = logging.getLogger(__name__)

LeanContext = Context[DaemonLink, Any]

Timeout = Annotated[float | None, Field(description="seconds per file or snippet (default: none)", gt=0)]
BuildCheck = Annotated[
    bool | None,
    Field(description="refuse files whose imports are not built (default: on, off on the SIMULATED REPL)"),
]
Jobs = Annotated[int, Field(description="sessions checked at once", ge=1, le=32)]
Cache = Annotated[bool, Field(description="answer from the project's result cache what cannot have changed")]
MaxMessages = Annotated[int, Field(description="messages kept per file or snippet (errors first)", ge=0, le=1000)]
Project = Annotated[
    str | None,
    Field(description="a folder of the Lake project to run in (default: the workspace's only project, else none)"),
]


class SnippetIn(BaseModel):
    """Kimina Lean Server's names (`custom_id`, `proof`) are read too, as `check --snippets` does."""

    id: str = Field(min_length=1, validation_alias=AliasChoices("id", "custom_id"))
    code: str = Field(
        description="Lean text with its own header (`import ...` lines first)",
        validation_alias=AliasChoices("code", "proof"),
    )


def failure(kind: str, message: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=f"{kind}: {message}")],
        structured_content={"error": {"kind": kind, "message": message}},
        is_error=True,
    )


def answer(got: BaseModel | ToolFailure) -> CallToolResult:
    if isinstance(got, ToolFailure):
        return failure(got.kind, got.message)
    doc = got.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(doc, ensure_ascii=False))], structured_content=doc
    )


def link_of(ctx: LeanContext) -> DaemonLink:
    return ctx.request_context.lifespan_context


def resolved(link: DaemonLink, path: str) -> tuple[Path, Path] | ToolFailure:
    """`path` and the workspace project holding it. A relative path is looked up in the server's
    working folder, then in each workspace project: a client may start the server anywhere."""
    given = Path(path).expanduser()
    bases = [] if given.is_absolute() else [Path.cwd(), *link.config.projects]
    absolute = next((b / given for b in bases if (b / given).exists()), given if given.is_absolute() else None)
    if absolute is None or not absolute.exists():
        looked = f" (looked in {', '.join(str(b) for b in dict.fromkeys(bases))})" if bases else ""
        return ToolFailure(ToolErrorKind.NOT_FOUND, f"{path}: no such file or folder{looked}")
    project = link.project_of(absolute)
    if project is None:
        shown = ", ".join(str(p) for p in link.config.projects) or "none"
        return ToolFailure(
            ToolErrorKind.OUTSIDE_WORKSPACE,
            f"{path} is outside the agent's workspace (its projects: {shown}); "
            "start `lean-batchd mcp --project DIR` to add one",
        )
    return absolute, project


def lean_file(link: DaemonLink, path: str) -> tuple[Path, Path] | ToolFailure:
    """As `resolved`, for tools that take one Lean file (not a folder or a lakefile)."""
    got = resolved(link, path)
    if not isinstance(got, ToolFailure) and (got[0].suffix != ".lean" or not got[0].is_file()):
        return ToolFailure(ToolErrorKind.INVALID_ARGUMENTS, f"{path} is not a Lean file (`.lean`)")
    return got


def header_only(header: str) -> Header | ToolFailure:
    """`header` parsed, refused when it holds more than a header (a command would otherwise be
    taken for the body and the session run on no imports at all)."""
    parsed = parse_header_text(header)
    rest = header.encode()[parsed.body_start.offset :].decode(errors="replace").strip()
    if rest:
        return ToolFailure(
            ToolErrorKind.INVALID_ARGUMENTS,
            f"`header` holds more than `import` lines: {rest[:80]!r} (put commands in `code`)",
        )
    return parsed


def project_folder(link: DaemonLink, project: str | None) -> Path | ToolFailure | None:
    """Where snippets and headers run: `project`'s Lake project, else the workspace's only one,
    else (no project in the workspace) the bare toolchain."""
    if project is not None:
        got = resolved(link, project)
        return got if isinstance(got, ToolFailure) else got[1]
    projects = link.config.projects
    if len(projects) > 1:
        names = ", ".join(str(p) for p in projects)
        return ToolFailure(
            ToolErrorKind.INVALID_ARGUMENTS, f"the workspace has several projects ({names}): give `project`"
        )
    return projects[0] if projects else None


@contextlib.asynccontextmanager
async def relayed(ctx: LeanContext) -> AsyncIterator[Callable[[float, float | None, str], None]]:
    """A callback that sends MCP progress in order from plain (non-async) code; every report is
    sent before the block ends (unless it ends by an exception, cancellation included)."""
    queue: asyncio.Queue[tuple[float, float | None, str]] = asyncio.Queue()

    async def pump() -> None:
        while True:
            done, total, message = await queue.get()
            try:
                await ctx.report_progress(done, total, message)
            except Exception:  # progress is advice: a client gone mid-call must not stall the answer
                log.debug("progress not sent", exc_info=True)
            finally:
                queue.task_done()

    task = asyncio.get_running_loop().create_task(pump())
    try:
        yield lambda done, total, message: queue.put_nowait((done, total, message))
        await queue.join()
    finally:
        await cancel_and_wait(task)
