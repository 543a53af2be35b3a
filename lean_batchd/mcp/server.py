"""`lean-batchd mcp`: the MCP server over stdio (the official `mcp` SDK, 2.x: `MCPServer`).

The process holds one connection to the shared daemon (`link`), made when the first tool needs
it; stdout is the wire, so nothing else may write there (the daemon it starts is detached with
its own log, and every Lean process belongs to the daemon, not to this server).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import ValidationError

from .. import __version__
from ..engine.managed import real_path
from ..lake.root import find_lake_root
from .calls import failure
from .link import DaemonLink, LinkConfig, ToolErrorKind
from .tools import READ_ONLY, TOOLS

EXIT_NO_PROJECT = 2

INSTRUCTIONS = """\
lean-batchd checks and runs Lean 4 in warm REPL sessions shared with the user's editors: a \
session imports a header once, and every file or snippet with that header reuses it. \
lean_check elaborates files as `lake build` would; lean_run runs commands on a file's imports \
or a header; lean_check_snippets checks many `{id, code}` snippets, grouped by header. \
Positions are Lean's: lines from 1, columns from 0. Errors are results with \
`{"error": {"kind", "message"}}`. When `simulated` is true, a stand-in answered, not Lean."""


class LeanTool(Tool):
    """A tool whose arguments, when they do not fit its input schema, get a typed error
    (`invalid-arguments`, with what is wrong) instead of the SDK's untyped one."""

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        try:
            self.fn_metadata.validate_arguments(arguments)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors()
            )
            return failure(ToolErrorKind.INVALID_ARGUMENTS, f"{self.name}: {problems}")
        return await super().run(arguments, context, convert_result)


def build_server(config: LinkConfig) -> MCPServer[DaemonLink]:
    @contextlib.asynccontextmanager
    async def lifespan(server: MCPServer[DaemonLink]) -> AsyncIterator[DaemonLink]:
        link = DaemonLink(config)
        try:
            yield link
        finally:
            await link.close()

    tools = [
        LeanTool.from_function(
            fn,
            annotations=ToolAnnotations(
                read_only_hint=fn.__name__ in READ_ONLY,
                destructive_hint=False,
                idempotent_hint=fn.__name__ != "lean_run",
                open_world_hint=False,
            ),
        )
        for fn in TOOLS
    ]
    return MCPServer(
        "lean-batchd",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=tools,
        lifespan=lifespan,
        log_level="WARNING",
    )


def command(socket: Path, projects: list[str] | None, serve_args: list[str]) -> int:
    """`lean-batchd mcp`: the agent's workspace is `projects`' Lake projects (default: the
    working folder's, when it is in one); a daemon it starts gets `serve_args`."""
    roots: list[Path] = []
    for folder in projects or ["."]:
        found = find_lake_root(Path(folder).resolve()).found
        if found is None and projects:
            print(f"lean-batchd mcp: {folder}: not inside a Lake project", file=sys.stderr)
            return EXIT_NO_PROJECT
        if found is not None:
            roots.append(Path(real_path(found.root)))
    build_server(LinkConfig(socket, tuple(serve_args), tuple(dict.fromkeys(roots)))).run("stdio")
    return 0
