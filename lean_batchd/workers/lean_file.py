"""Lean run on one whole file as `lake build` runs it: the path for what a REPL session cannot
elaborate faithfully (see `plan.elaboration`).

Lake compiles a module with `lean <file> -R <root> <-D options...>` under its `LEAN_PATH`
(`compileLeanModule`, `Lake/Build/Actions.lean`; newer Lake passes the module name and the
options in a `--setup` file and adds `--json`, to the same effect). Here: `lake env lean`
(Lake's `LEAN_PATH`), `-R` the file's source root (so Lean names the main module from the
file's path, as the module system needs), each of Lake's options as `-D` (Lean sets them
after importing, a `weak.` one only if declared: `reparseOptions`), `--json` (one message
per line), and no `-o`/`-i`/`-c`: nothing is written, so a check never touches what
`lake build` built. One process per file; the file's own header is imported each time.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..lake.options import LeanOptions
from .failures import FailureKind, WorkerFailure
from .process import ReplProcess
from .protocol import Message, Pos

DEFAULT_LEAN_COMMAND = ("lake", "env", "lean")
_SEVERITY = {"information": "info", "warning": "warning", "error": "error"}
_GUARD_RE = re.compile(
    r"^lean-batchd guard: the worker (?:exited with code (\d+)|killed by signal (\d+))", re.MULTILINE
)


@dataclass(frozen=True, slots=True)
class LeanFileResult:
    messages: tuple[Message, ...]
    """Positions are the file's own (line 1-based, column 0-based in code points)."""
    exit_code: int
    stderr: str


def lean_argv(command: tuple[str, ...], path: str, source_root: str, options: LeanOptions) -> tuple[str, ...]:
    defines = [f"-D{name}={_d_value(value)}" for name, value in options]
    return (*command, "--json", "-R", source_root, *defines, path)


def _d_value(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _message(line: str) -> Message | None:
    """One line of `lean --json`: a serialised `Lean.Message` (`severity` is `information`,
    `warning` or `error`; `pos`/`endPos` as the REPL's)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "severity" not in obj:
        return None
    caption = str(obj.get("caption") or "")
    data = str(obj.get("data", "")).strip()
    raw = {**obj, "severity": _SEVERITY.get(str(obj["severity"]), str(obj["severity"])), "data": data}
    parsed = Message.from_json(raw)
    return parsed if not caption else Message(parsed.severity, parsed.pos, parsed.end_pos, f"{caption}:\n{data}", raw)


async def run_lean_file(
    command: tuple[str, ...],
    cwd: str,
    path: str,
    source_root: str,
    options: LeanOptions,
    timeout: float | None,
    text: str | None = None,
) -> LeanFileResult | WorkerFailure:
    """Elaborate `path` (under `source_root`; `cwd` is the project root) in a Lean process of its
    own; with `text` (an unsaved buffer), that text, placed at the same path under a temporary
    root so that Lean names the same main module."""
    if text is None:
        return await _run(lean_argv(command, path, source_root, options), cwd, timeout)
    with tempfile.TemporaryDirectory(prefix="lean-batchd-buffer-") as scratch:
        copy = Path(scratch) / Path(path).relative_to(source_root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
        return await _run(lean_argv(command, str(copy), scratch, options), cwd, timeout)


async def _run(argv: tuple[str, ...], cwd: str, timeout: float | None) -> LeanFileResult | WorkerFailure:
    proc = await ReplProcess.spawn(argv, cwd)
    if isinstance(proc, WorkerFailure):
        return proc
    try:
        assert proc.proc.stdin is not None and proc.proc.stdout is not None
        proc.proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                out = await proc.proc.stdout.read()
            async with asyncio.timeout(timeout):
                await proc.proc.wait()
        except TimeoutError:
            await proc.kill()
            return WorkerFailure(FailureKind.TIMEOUT, f"`lean` gave no result within {timeout:g} s", proc.stderr_tail())
    except asyncio.CancelledError:
        await proc.kill()
        raise
    await proc.close(grace=0)
    ended = _GUARD_RE.search(proc.stderr_tail())  # the guard ends by killing its group: it says how Lean ended
    code = 0 if ended is None else int(ended.group(1)) if ended.group(1) else -int(ended.group(2))
    lines = out.decode("utf-8", errors="replace").splitlines()
    messages = [m for m in (_message(line) for line in lines if line.strip()) if m is not None]
    stray = [line for line in lines if line.strip() and _message(line) is None]
    stderr = "".join(line for line in proc.stderr_tail().splitlines(True) if not line.startswith("lean-batchd guard: "))
    if code != 0 and not any(m.severity == "error" for m in messages):
        said = (stderr.strip() or "\n".join(stray).strip() or "no message")[-2000:]
        kind = FailureKind.IMPORT_FAILED if "invalid -D parameter" in said else FailureKind.CRASH
        return WorkerFailure(kind, f"`{' '.join(argv[:3])}` failed (exit {code}): {said}", stderr)
    if stray:
        messages.append(Message("info", Pos(1, 0), None, "\n".join(stray), {}))
    return LeanFileResult(tuple(messages), code, stderr)
