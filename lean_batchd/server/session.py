"""One LSP connection: its own pygls `LanguageServer` over the shared engine.

pygls handles the standard protocol (initialize, text synchronisation,
code lenses, commands, shutdown); lean-batchd's own `$/leanBatchd/...`
requests are read from plain JSON here, validated (-32602 on bad params),
refused outside the connection's workspace (`workspace.py`), and answered from
the engine. Until `initialize` has succeeded (with the TCP token, where one is
required) nothing but `initialize` and `exit` is served. The connection owns
the unsaved buffers it opened; they go when it goes. `exit` ends this
connection only; the hub decides about the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method

from .. import __version__
from ..engine.values import EngineError, ModuleInfo
from ..lake.diagnostics import Diagnostic
from ..plan.keys import Profile, Strategy
from . import methods as m
from .render import fingerprint_result, plan_result
from .transport import LoopWriter, error_message, frame
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
        self.published: set[str] = set()
        self.unsaved: dict[str, tuple[list[Diagnostic], list[str]]] = {}
        """This connection's unsaved buffers' header diagnostics and lines, by path: what it is
        shown for those files instead of the saved files' diagnostics."""
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

    def notify(self, method: str, params: Any) -> None:
        if self.initialized and not self.closed:
            self.ls.protocol.notify(method, params)

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
                task = asyncio.get_running_loop().create_task(self._custom(msg_id, method, message.get("params")))
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
        else:
            self.send({"jsonrpc": "2.0", "id": msg_id, "result": result})

    # -- workspace ---------------------------------------------------------------------

    def inside(self, path: str) -> str:
        """`path` resolved, if it is inside this connection's workspace; else invalid params."""
        return self.workspace.inside(path)

    def default_root(self, params: dict[str, Any]) -> str:
        uri = params.get("uri")
        if uri is not None:
            return self.inside(m.path_of_uri(uri))
        if not self.workspace.current:
            raise m.ParamsError("`uri` is required when the connection has no workspace folder")
        return str(self.workspace.current[0].real)

    def covers(self, root: Path) -> bool:
        return self.workspace.covers(root)

    # -- custom requests ---------------------------------------------------------------

    @functools.cached_property
    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        return {
            m.PROJECTS: self.projects,
            m.MODULES: self.modules,
            m.MODULE_INFO: self.module_info,
            m.PLAN: self.plan,
            m.FINGERPRINT: self.fingerprint,
            m.PREWARM: self.prewarm,
            m.RUN: self.run,
            m.CHECK: self.check,
            m.STATUS: self.status,
            m.EVICT: self.evict,
            m.STOP_DAEMON: self.stop_daemon,
            m.SNIPPET_INFO: self.snippet_info,
            m.CHECK_SNIPPET: self.check_snippet,
            m.RUN_SNIPPET: self.run_snippet,
        }

    async def projects(self, params: dict[str, Any]) -> Any:
        for folder in self.workspace.current:
            await self.engine.project_for(str(folder.real))
        status = self.engine.status()
        projects: list[dict[str, Any]] = status["projects"]  # type: ignore[assignment]
        return [p for p in projects if self.covers(Path(p["root"]))]

    async def modules(self, params: dict[str, Any]) -> Any:
        managed = await self.engine.project_for(self.default_root(params))
        if isinstance(managed, EngineError):
            return managed
        async with managed.lock:
            batch_of = {w.module: b.id for b in managed.plan.batches for w in b.modules}
            return [
                {
                    "module": mod.name,
                    "uri": self.workspace.uri(mod.path),
                    "library": mod.library,
                    "batchId": batch_of.get(mod.name),
                }
                for mod in managed.project.local_modules()
            ]

    async def module_info(self, params: dict[str, Any]) -> Any:
        path = self.inside(m.text_document(params) or "")
        info = await self.engine.module_info(path, self.name)
        return info if isinstance(info, EngineError) else {"uri": params["textDocument"]["uri"], **info.to_json()}

    async def plan(self, params: dict[str, Any]) -> Any:
        root = self.default_root(params)
        profile = m.opt_str(params, "profile", tuple(str(p) for p in Profile)) or str(Profile.HEADER)
        strategy = m.opt_str(params, "strategy", tuple(str(s) for s in Strategy)) or str(Strategy.EXACT)
        cap = m.opt_positive_int(params, "maxClosure")
        result = await self.engine.plan(root, Profile(profile), Strategy(strategy), cap)
        if isinstance(result, EngineError):
            return result
        managed = await self.engine.project_for(root)
        assert not isinstance(managed, EngineError)
        return plan_result(result, self.workspace.shown(managed.root))

    async def fingerprint(self, params: dict[str, Any]) -> Any:
        fp = await self.engine.fingerprint(self.default_root(params))
        return fp if isinstance(fp, EngineError) else fingerprint_result(fp)

    async def prewarm(self, params: dict[str, Any]) -> Any:
        path = m.text_document(params, required=False)
        digest = m.opt_str(params, "sessionKey")
        header = m.opt_str(params, "header")
        if path is None and digest is None and header is None:
            raise m.ParamsError("give `textDocument`, `sessionKey` or `header`")
        if header is not None and path is None and digest is None:
            found = await self.engine.snippets.prewarm(header, self._snippet_folder(params))
            key = found if isinstance(found, EngineError) else found.key
        else:
            key = await self.engine.prewarm(self.inside(path) if path else None, digest, self.name)
        if isinstance(key, EngineError):
            return key
        self.hub.track_prewarm(self, key.digest, " ".join(i.render() for i in key.imports) or "(no imports)")
        return {"sessionKey": key.digest, "started": True}

    async def run(self, params: dict[str, Any]) -> Any:
        path = self.inside(m.text_document(params) or "")
        command = m.opt_str(params, "command")
        timeout = m.opt_positive_int(params, "timeoutMs")
        result = await self.engine.run(path, command, None if timeout is None else timeout / 1000, self.name)
        return result if isinstance(result, EngineError) else {"uri": params["textDocument"]["uri"], **result.to_json()}

    async def check(self, params: dict[str, Any]) -> Any:
        path = self.inside(m.text_document(params) or "")
        timeout = m.opt_positive_int(params, "timeoutMs")
        build_check = m.opt_bool(params, "buildCheck", True)
        cache = m.opt_bool(params, "cache", True)
        seconds = None if timeout is None else timeout / 1000
        outcome = await self.engine.check(path, seconds, build_check, self.name, cache)
        return outcome if isinstance(outcome, EngineError) else outcome.to_json()

    def _snippet_folder(self, params: dict[str, Any]) -> str | None:
        """The project folder a snippet names (`uri`, inside the workspace); None: the bare toolchain."""
        uri = params.get("uri")
        return None if uri is None else self.inside(m.path_of_uri(uri))

    async def snippet_info(self, params: dict[str, Any]) -> Any:
        return await self.engine.snippets.info(m.req_str(params, "code"), self._snippet_folder(params))

    async def check_snippet(self, params: dict[str, Any]) -> Any:
        code = m.req_str(params, "code")
        folder = self._snippet_folder(params)
        timeout = m.opt_positive_int(params, "timeoutMs")
        build_check = m.opt_bool(params, "buildCheck", True)
        cache = m.opt_bool(params, "cache", True)
        seconds = None if timeout is None else timeout / 1000
        outcome = await self.engine.snippets.check(code, folder, seconds, build_check, cache)
        return outcome if isinstance(outcome, EngineError) else {**outcome.to_json(), "path": None}

    async def run_snippet(self, params: dict[str, Any]) -> Any:
        header, command = m.req_str(params, "header"), m.req_str(params, "command")
        timeout = m.opt_positive_int(params, "timeoutMs")
        folder = self._snippet_folder(params)
        result = await self.engine.snippets.run(header, command, folder, None if timeout is None else timeout / 1000)
        return result if isinstance(result, EngineError) else {**result.to_json(), "path": None}

    async def status(self, params: dict[str, Any]) -> Any:
        daemon = {**self.hub.about, "uptimeSeconds": round(time.time() - self.hub.started, 1)}
        return {**self.engine.status(), "connections": len(self.hub.sessions), "daemon": daemon}

    async def evict(self, params: dict[str, Any]) -> Any:
        path = m.text_document(params, required=False)
        digest = m.opt_str(params, "sessionKey")
        every = m.opt_bool(params, "all", False)
        if path is None and digest is None and not every:
            raise m.ParamsError("give `textDocument`, `sessionKey` or `all: true`")
        evicted = await self.engine.evict(digest, self.inside(path) if path else None, every, self.name)
        return evicted if isinstance(evicted, EngineError) else {"evicted": evicted}

    async def stop_daemon(self, params: dict[str, Any]) -> Any:
        asyncio.get_running_loop().call_later(0.05, self.hub.request_stop)
        return {"stopping": True}

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
            return await self.prewarm({"textDocument": {"uri": uri}})

    async def _settled(self) -> None:
        """Wait until the document changes sent before this request are applied."""
        async with self._documents:
            pass

    async def _set_buffer(self, path: str, text: str | None) -> None:
        await self.engine.set_buffer(path, text, self.name)
        if self.closed:  # it closed while the buffer was on its way: take it back
            self.engine.drop_buffers(self.name)
            return
        found = await self.engine.buffer_diagnostics(path, self.name) if text is not None else None
        self.hub.buffer_changed(self, path, None if found is None or text is None else (found, text.split("\n")))

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
