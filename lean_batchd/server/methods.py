"""The LSP contract of lean-batchd: method names and their parameters.

Method names carry the `$/` prefix, like Lean's own `$/lean/...`; params and
results are JSON objects in camelCase. Invalid params are JSON-RPC error
-32602, never silence. Params are read here from plain JSON, not through
pygls's generic structuring (which turns objects into tuples).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

PREFIX = "$/leanBatchd/"
PROJECTS = PREFIX + "projects"
MODULES = PREFIX + "modules"
MODULE_INFO = PREFIX + "moduleInfo"
PLAN = PREFIX + "plan"
FINGERPRINT = PREFIX + "fingerprint"
PREWARM = PREFIX + "prewarm"
RUN = PREFIX + "run"
CHECK = PREFIX + "check"
STATUS = PREFIX + "status"
EVICT = PREFIX + "evict"
STOP_DAEMON = PREFIX + "stopDaemon"
SNIPPET_INFO = PREFIX + "snippetInfo"
"""`{code, uri?}`: the session of a snippet (Lean text with its own header) in the project holding
the folder `uri`, or on the bare toolchain without one: `moduleInfo` for text that is no file."""
CHECK_SNIPPET = PREFIX + "checkSnippet"
"""`{code, uri?, timeoutMs?, buildCheck?, cache?}`: `check` for a snippet (its outcome, `path` null)."""
RUN_SNIPPET = PREFIX + "runSnippet"
"""`{header, command, uri?, timeoutMs?}`: `run` of `command` in the session of `header`."""
REQUESTS = (
    PROJECTS, MODULES, MODULE_INFO, PLAN, FINGERPRINT, PREWARM, RUN, CHECK, STATUS, EVICT, STOP_DAEMON,
    SNIPPET_INFO, CHECK_SNIPPET, RUN_SNIPPET,
)  # fmt: skip
PLAN_CHANGED = PREFIX + "planChanged"
WORKER_CHANGED = PREFIX + "workerChanged"
NOTIFICATIONS = (PLAN_CHANGED, WORKER_CHANGED)
PREWARM_COMMAND = "leanBatchd.prewarm"

INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
SERVER_ERROR = -32001
CANCEL_REQUEST = "$/cancelRequest"


class ParamsError(ValueError):
    """Raised while reading params; becomes a -32602 reply."""


def obj(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParamsError("params must be a JSON object")
    return params


PATH_MAX = 4096


def path_of_uri(uri: Any) -> str:
    """The absolute local path a `file:` URI names; anything else is invalid params."""
    if not isinstance(uri, str):
        raise ParamsError("expected a `file:` URI string")
    shown = uri if len(uri) <= 200 else uri[:200] + "..."
    try:
        parsed = urlparse(uri)
        path = unquote(parsed.path, errors="strict")
        size = len(os.fsencode(path))
    except (ValueError, UnicodeError):
        raise ParamsError(f"not a valid `file:` URI: {shown!r}") from None
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise ParamsError(f"only local `file:` URIs are served, not {shown!r}")
    if "\0" in path or not path.startswith("/") or size > PATH_MAX:
        raise ParamsError(f"not an absolute local path: {shown!r}")
    return str(Path(path))


def uri_of_path(path: str | Path) -> str:
    return Path(path).as_uri()


def text_document(params: dict[str, Any], required: bool = True) -> str | None:
    doc = params.get("textDocument")
    if doc is None:
        if required:
            raise ParamsError("`textDocument` is required")
        return None
    if not isinstance(doc, dict) or "uri" not in doc:
        raise ParamsError("`textDocument` must be an object with a `uri`")
    return path_of_uri(doc["uri"])


def opt_str(params: dict[str, Any], key: str, choices: tuple[str, ...] | None = None) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        allowed = f" (one of {', '.join(choices)})" if choices else ""
        raise ParamsError(f"`{key}` must be a string{allowed}")
    return value


def req_str(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise ParamsError(f"`{key}` is required and must be a string")
    return value


def opt_positive_int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ParamsError(f"`{key}` must be a positive integer")
    return value


def opt_bool(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise ParamsError(f"`{key}` must be true or false")
    return value
