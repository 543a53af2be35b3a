"""How the command line looks on a terminal: colour when wanted, lines that fit, short paths.

Colour follows `--color` (`auto`: only on a terminal, and never with `NO_COLOR` set, as
https://no-color.org asks); pipes and files always get plain text.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
"""A command line, or stdin and stdout, the command cannot work with (argparse's own code)."""
EXIT_NO_PROJECT = 2
"""No Lake project where the command was pointed."""
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

_CODES = {"red": "31", "yellow": "33", "green": "32", "cyan": "36", "dim": "2", "bold": "1"}
SEVERITY_COLOUR = {"error": "red", "warning": "yellow", "information": "cyan", "info": "cyan"}
STATUS_COLOUR = {
    "ok": "green",
    "errors": "red",
    "build-first": "yellow",
    "header-failed": "red",
    "timeout": "red",
    "crashed": "red",
    "memory": "red",
    "node-lost": "red",
}


@dataclass(frozen=True, slots=True)
class Palette:
    colour: bool

    def paint(self, text: str, colour: str | None) -> str:
        if not self.colour or colour is None:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"


PLAIN = Palette(False)


def palette(stream: TextIO, choice: str = "auto") -> Palette:
    """`always`, `never`, or `auto`: colour on a terminal unless NO_COLOR is set."""
    if choice == "always":
        return Palette(True)
    if choice == "never" or os.environ.get("NO_COLOR"):
        return Palette(False)
    return Palette(stream.isatty())


def width(stream: TextIO) -> int | None:
    """The terminal's width for a terminal; None (no limit) for a pipe or a file."""
    if not stream.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def fit(line: str, limit: int | None) -> str:
    """`line`, cut with an ellipsis so it fits `limit` columns (None: as it is)."""
    if limit is None or len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)] + "…"


def wrap(text: str, limit: int | None) -> str:
    """`text` broken into lines of at most `limit` columns (None: as it is), later lines indented."""
    if limit is None or len(text) <= limit:
        return text
    return textwrap.fill(text, limit, subsequent_indent="  ", break_on_hyphens=False)


def display(path: str) -> str:
    """Relative to the working directory when inside it, else absolute, as compilers print
    paths (so editors and terminals can open `path:line:col`)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def missing(path: str) -> str | None:
    """The error every command gives for a path that is not there (None when it is): a path
    that does not exist must not quietly mean the folder above it."""
    if os.path.exists(path):
        return None
    dangling = os.path.islink(path)
    return f"{path}: no such file or folder" + (" (a symbolic link to nothing)" if dangling else "")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def megabytes(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def file_size(size: int) -> str:
    """A size on disk: a small store reads `48 KB`, not `0 MB`."""
    if size < 1024:
        return f"{size} bytes"
    if round(size / 1024) < 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 2**20:.1f} MB" if size < 10 << 20 else megabytes(size / 2**20)


def run_interruptible(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, where the first Ctrl-C cancels `main` (its requests, its workers)
    and ends in KeyboardInterrupt once that is done, whatever `main` made of the
    cancellation; a second Ctrl-C leaves at once."""
    import asyncio
    import signal

    interrupted = False

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None

        def on_sigint() -> None:
            nonlocal interrupted
            if interrupted:
                print("\nlean-batchd: interrupted", file=sys.stderr)
                os._exit(EXIT_INTERRUPTED)
            interrupted = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_sigint)
        return await main

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    if interrupted:
        raise KeyboardInterrupt
    return result


def json_doc(doc: object) -> str:
    """A whole JSON document as commands print it: indented, ending its line."""
    return json_text(doc, indent=1) + "\n"


def json_text(doc: object, indent: int | None = None) -> str:
    """`doc` as JSON, other scripts' letters as themselves; a file name that is not UTF-8 (its
    bytes held as lone surrogates) as `\\udcXX` escapes, so what is printed is always UTF-8."""
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")
