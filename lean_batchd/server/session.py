"""One LSP connection: its own pygls `LanguageServer` over the shared engine.

pygls handles the standard protocol (initialize, text synchronisation,
code lenses, commands, shutdown); lean-batchd's own `$/leanBatchd/...`
requests are read from plain JSON here and answered by `requests.py`, and
notifications go out through the connection's `Outbox`. Until `initialize`
has succeeded (with the TCP token, where one is required) nothing but
`initialize` and `exit` is served. The connection owns
the unsaved buffers it opened; they go when it goes. `exit` ends this
connection only; the hub decides about the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method

from .. import __version__
from ..engine.snapshot import FileDiagnostics
from ..engine.values import EngineError, ModuleInfo
from ..lake.diagnostics import Diagnostic
from . import methods as m
from .outbox import Outbox
from .requests import Encoded, Requests
from .transport import LoopWriter, error_message, frame, frame_json
from .workspace import Workspace

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


METHOD_CACHE = 512
"""Method names are the client's: a bounded cache, or a client sending new names grows it for ever."""


@functools.cache
def _converter() -> cattrs.Converter:
    converter: cattrs.Converter = default_converter()  # type: ignore[no-untyped-call]
    return converter


@functools.lru_cache(maxsize=METHOD_CACHE)
def _message_type(method: str) -> Any:
    return types.METHOD_TO_TYPES.get(method, (None,))[0]


@functools.lru_cache(maxsize=METHOD_CACHE)
def _notification(method: str) -> bool:
    """Does LSP define `method` as a notification (pygls would take a request for it and never answer)?"""
    known = types.METHOD_TO_TYPES.get(method)
    return known is not None and known[1] is None


@functools.lru_cache(maxsize=METHOD_CACHE)
def _result_type(method: str) -> Any:
    return types.METHOD_TO_TYPES.get(method, (None, None))[1]


class SessionProtocol(LanguageServerProtocol):
    """Per-connection protocol: `exit` closes only this connection; message types come from a
    module-level cache (pygls's per-instance `lru_cache` keeps dead connections alive)."""

    session: Session

    def get_message_type(self, method: str) -> Any:  # type: ignore[override]
        return _message_type(method)

    def get_result_type(self, method: str) -> Any:  # type: ignore[override]
        return _result_type(method)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None  # we speak UTF-16 everywhere
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        result.capabilities.experimental = {
            "leanBatchd": {"version": __version__, "requests": list(m.REQUESTS), "notifications": list(m.NOTIFICATIONS)}
        }
        return result

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        yield from ()
        self.session.close()


class Session:
    def __init__(self, hub: Hub, writer: LoopWriter, name: str) -> None:
        self.hub = hub
        self.engine = hub.engine
        self.name = name
        self.writer = writer
        self.ls = LanguageServer(
            "lean-batchd",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Full,
            protocol_cls=SessionProtocol,
            converter_factory=_converter,
        )
        protocol = self.ls.protocol
        assert isinstance(protocol, SessionProtocol)
        protocol.session = self
        protocol.set_writer(writer, include_headers=True)
        self.workspace = Workspace()
        self.initialized = False
        """The client sent `initialized`: the server may now send it notifications."""
        self.accepting = False
        """`initialize` was answered: lean-batchd requests are served from now on."""
        self.shut_down = False
        self.closed = False
        self.prewarm_on_open = hub.prewarm_on_open
        self.outbox = Outbox(writer)
        self.shown: dict[str, tuple[Diagnostic, ...]] = {}
        """What the client shows for each URI, as published (none: nothing)."""
        self.unsaved: dict[str, FileDiagnostics] = {}
        """This connection's unsaved buffers' header diagnostics, by path: what it is shown for
        those files instead of the saved files' diagnostics."""
        self._buffer_versions: dict[str, int] = {}
        self.lenses_asked = False
        """The client asked for code lenses: only then is a refresh worth sending (see the hub)."""
        self._tasks: dict[Any, asyncio.Task[None]] = {}
        self._documents = asyncio.Lock()
        """Held while a didOpen/didChange/didClose is applied; a request waits for those sent
        before it (pygls runs handlers as concurrent tasks, in the order messages arrive)."""
        self._on_close: list[Callable[[], None]] = []
        self._register()

    # -- plumbing ----------------------------------------------------------------------

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(frame(message))

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        if not self.closed:
            self.ls.window_log_message(types.LogMessageParams(kind, message))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self._tasks.values():
            task.cancel()
        self.engine.drop_buffers(self.name)
        self.writer.close()
        asyncio.get_running_loop().create_task(self.outbox.close())
        for callback in self._on_close:
            callback()

    def receive(self, message: dict[str, Any]) -> None:
        """One JSON-RPC message from the client (`transport` checked its shape: `id` is a string,
        an integer or absent, `method` a string or absent)."""
        method = message.get("method")
        msg_id = message.get("id")
        if not self.accepting and method not in (types.INITIALIZE, types.EXIT):
            if method is not None and msg_id is not None:
                self.send(error_message(msg_id, m.NOT_INITIALIZED, "the server is not initialized"))
            return  # notifications before `initialize` are dropped, as LSP says
        if isinstance(method, str) and method.startswith(m.PREFIX):
            if msg_id is None:
                return  # we define no client-to-server notifications
            if self.shut_down:
                self.send(error_message(msg_id, m.INVALID_REQUEST, "the server is shut down"))
            else:
                task = asyncio.get_running_loop().create_task(
                    self._custom(msg_id, method, message.get("params")), name=f"{method} {msg_id!r}"
                )
                self._tasks[msg_id] = task
                task.add_done_callback(lambda done: self._forget(msg_id, done))
            return
        if msg_id is not None and isinstance(method, str) and _notification(method):
            self.send(error_message(msg_id, m.INVALID_REQUEST, f"{method} is a notification: it takes no `id`"))
            return
        if method == m.CANCEL_REQUEST:
            params = message.get("params")
            target = params.get("id") if isinstance(params, dict) else None
            if not isinstance(target, str | int):
                return  # a malformed notification has no one to answer
            if target in self._tasks:
                self._tasks[target].cancel()
                return
        if self.shut_down and msg_id is not None and method not in (None, "exit"):
            self.send(error_message(msg_id, m.INVALID_REQUEST, "the server is shut down"))
            return
        if method is not None and "params" not in message:
            message = {**message, "params": None}  # optional in JSON-RPC; pygls requires the key
        try:
            structured = self.ls.protocol.structure_message(message)
        except JsonRpcException as e:  # params pygls cannot read: the client's fault, not ours
            if msg_id is not None and method is not None:
                self.send(error_message(msg_id, m.INVALID_PARAMS, f"{method}: invalid params ({e.message})"))
            return
        self.ls.protocol.handle_message(structured)

    def _forget(self, msg_id: Any, done: asyncio.Task[None]) -> None:
        if self._tasks.get(msg_id) is done:
            del self._tasks[msg_id]

    async def _custom(self, msg_id: Any, method: str, params: Any) -> None:
        handler = self._handlers.get(method)
        try:
            await self._settled()
            if handler is None:
                self.send(error_message(msg_id, m.METHOD_NOT_FOUND, f"unknown method {method}"))
                return
            result = await handler(m.obj(params))
        except m.ParamsError as e:
            self.send(error_message(msg_id, m.INVALID_PARAMS, f"{method}: {e}"))
            return
        except asyncio.CancelledError:
            if not self.closed:
                self.send(error_message(msg_id, m.REQUEST_CANCELLED, "request cancelled"))
            return
        except Exception as e:  # a bug: answer, log, keep serving
            log.exception("%s failed", method)
            self.send(error_message(msg_id, m.INTERNAL_ERROR, f"internal error in {method}: {e}"))
            return
        if isinstance(result, EngineError):
            self.send(error_message(msg_id, m.SERVER_ERROR, result.message, result.to_json()))
        elif isinstance(result, Encoded):
            self.writer.write(frame_json(f'{{"jsonrpc":"2.0","id":{json.dumps(msg_id)},"result":{result.text}}}'))
        else:
            self.send({"jsonrpc": "2.0", "id": msg_id, "result": result})

    # -- workspace ---------------------------------------------------------------------

    def inside(self, path: str) -> str:
        """`path` resolved, if it is inside this connection's workspace; else invalid params."""
        return self.workspace.inside(path, self.engine.resolved(path))

    def default_root(self, params: dict[str, Any]) -> str:
        uri = params.get("uri")
        if uri is not None:
            return self.inside(m.path_of_uri(uri))
        if not self.workspace.current:
            raise m.ParamsError("`uri` is required when the connection has no workspace folder")
        return str(self.workspace.current[0].real)

    def covers(self, root: Path) -> bool:
        return self.workspace.covers(root)

    @functools.cached_property
    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return Requests(self).handlers()

    # -- standard LSP ------------------------------------------------------------------

    def _register(self) -> None:
        ls = self.ls

        @ls.feature(types.INITIALIZE)
        @invalid_params
        def initialize(params: types.InitializeParams) -> None:
            options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
            if self.hub.token is not None and not _same_token(options.get("token"), self.hub.token):
                asyncio.get_running_loop().call_soon(self.close)
                raise JsonRpcException(
                    code=m.INVALID_REQUEST, message="a valid `initializationOptions.token` is required"
                )
            if "prewarmOnOpen" in options:
                self.prewarm_on_open = bool(options["prewarmOnOpen"])
            folders = [f.uri for f in params.workspace_folders or []] or ([params.root_uri] if params.root_uri else [])
            self.workspace.declare(folders)
            self.accepting = True

        @ls.feature(types.INITIALIZED)
        async def initialized(params: types.InitializedParams) -> None:
            self.initialized = True
            for folder in self.workspace.current:
                asyncio.get_running_loop().create_task(self.hub.open_for(self, folder.real))

        @ls.feature(types.SHUTDOWN)
        def shutdown(params: Any) -> None:
            self.shut_down = True
            for task in self._tasks.values():
                task.cancel()

        @ls.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
        async def folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
            event = params.event
            added = self.workspace.change([f.uri for f in event.added], [f.uri for f in event.removed])
            for folder in added:
                await self.hub.open_for(self, folder.real)

        @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
        async def did_open(params: types.DidOpenTextDocumentParams) -> None:
            async with self._documents:
                await self._adopt(params.text_document.uri)
                path = self._lean_path(params.text_document.uri)
                if path is None:
                    return
                await self._set_buffer(path, params.text_document.text)
            if self.prewarm_on_open and not self.closed:
                key = await self.engine.prewarm(path, None, self.name)
                if not isinstance(key, EngineError):
                    self.hub.track_prewarm(self, key.digest, " ".join(i.render() for i in key.imports))

        @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
        async def did_change(params: types.DidChangeTextDocumentParams) -> None:
            async with self._documents:
                path = self._lean_path(params.text_document.uri)
                if path is not None:
                    document = self.ls.workspace.get_text_document(params.text_document.uri)
                    await self._set_buffer(path, document.source)

        @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
        async def did_close(params: types.DidCloseTextDocumentParams) -> None:
            async with self._documents:
                path = self._lean_path(params.text_document.uri)
                if path is not None:
                    await self._set_buffer(path, None)

        @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
        async def did_save(params: types.DidSaveTextDocumentParams) -> None:
            path = self._lean_path(params.text_document.uri)
            if path is not None:
                await self.engine.apply_paths(path, [path])

        @ls.feature(types.TEXT_DOCUMENT_CODE_LENS)
        @invalid_params
        async def code_lens(params: types.CodeLensParams) -> list[types.CodeLens]:
            self.lenses_asked = True
            await self._settled()
            path = self._lean_path(params.text_document.uri)
            if path is None:
                return []
            info = await self.engine.module_info(path, self.name)
            if isinstance(info, EngineError):
                return []
            return [lens(info, params.text_document.uri)]

        @ls.command(m.PREWARM_COMMAND)
        @invalid_params
        async def prewarm_command(uri: str) -> Any:
            return await self._handlers[m.PREWARM]({"textDocument": {"uri": uri}})

    async def _settled(self) -> None:
        """Wait until the document changes sent before this request are applied."""
        async with self._documents:
            pass

    async def _set_buffer(self, path: str, text: str | None) -> None:
        await self.engine.set_buffer(path, text, self.name)
        if self.closed:  # it closed while the buffer was on its way: take it back
            self.engine.drop_buffers(self.name)
            return
        version = self._buffer_versions[path] = self._buffer_versions.get(path, 0) + 1
        if text is None:
            self.hub.buffer_changed(self, path, None)
        else:  # resolving the header's imports may wait for an update: requests behind do not
            asyncio.get_running_loop().create_task(self._buffer_diagnostics(path, text, version))

    async def _buffer_diagnostics(self, path: str, text: str, version: int) -> None:
        found = await self.engine.buffer_diagnostics(path, self.name)
        if self._buffer_versions.get(path) == version and not self.closed:
            self.hub.buffer_changed(self, path, None if found is None else FileDiagnostics.of(found, text))

    async def _adopt(self, uri: str) -> None:
        """With no workspace folder declared, an opened document's project joins the workspace."""
        if self.workspace.folders or not uri.startswith("file:") or not uri.endswith(".lean"):
            return
        path = m.path_of_uri(uri)
        managed = await self.engine.project_for(path)
        if isinstance(managed, EngineError):
            return
        folder = self.workspace.adopt(path, managed.root)
        if folder is not None and self.initialized:
            asyncio.get_running_loop().create_task(self.hub.open_for(self, folder.real))

    def _lean_path(self, uri: str) -> str | None:
        if not uri.startswith("file:") or not uri.endswith(".lean"):
            return None
        path = m.path_of_uri(uri)
        with contextlib.suppress(m.ParamsError):
            return self.inside(path)
        return None


def invalid_params(handler: F) -> F:
    """A pygls handler whose `ParamsError` is answered -32602 (pygls answers other errors -32603)."""
    if asyncio.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def answering(*args: Any) -> Any:
            try:
                return await handler(*args)
            except m.ParamsError as e:
                raise JsonRpcInvalidParams(str(e)) from None

        return cast(F, answering)

    @functools.wraps(handler)
    def answering_now(*args: Any) -> Any:
        try:
            return handler(*args)
        except m.ParamsError as e:
            raise JsonRpcInvalidParams(str(e)) from None

    return cast(F, answering_now)


def _same_token(given: Any, token: str) -> bool:
    """Compared in constant time, so the comparison does not tell how much of a guess was right."""
    return isinstance(given, str) and given.isascii() and secrets.compare_digest(given, token)


def lens(info: ModuleInfo, uri: str) -> types.CodeLens:
    """The header's code lens: the session's state and how many modules share it."""
    shared = f" · {info.sharing} modules share this header" if info.sharing > 1 else ""
    if info.worker_state == "cold":
        title = f"lean-batchd: session cold{shared} · prewarm"
    elif info.worker_state in ("starting", "importing"):
        title = f"lean-batchd: warming…{shared}"
    else:
        memory = f" · {info.worker_memory_mb:.0f} MB" if info.worker_memory_mb else ""
        title = f"lean-batchd: {info.worker_state}{memory}{shared}"
    line = max(info.header_end[0] - 1, 0)
    return types.CodeLens(
        range=types.Range(types.Position(0, 0), types.Position(line, 0)),
        command=types.Command(title=title, command=m.PREWARM_COMMAND, arguments=[uri]),
    )
