"""`lean-batchd check --snippets FILE.jsonl` and `bench --snippets`: pieces of Lean, each with
its own header, checked in planned warm sessions as files are.

Each input line is a JSON object with an `id` (a string or an integer) and Lean `code` (header
and body); Kimina Lean Server's `custom_id` and `proof` are read as `id` and `code`. A line that
cannot be read (empty, not JSON, no id or code, an id seen before) is reported as a typed error
on its own JSONL line, and the other snippets still run. Snippets run in the project holding the
working folder (or `--project`), with its Lake options, as a file no library builds; outside
any project, on the bare toolchain (`engine.snippets`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from .check_command import CheckOptions, finish_summary, pool_for, run_items, target_for
from .engine.checking import CheckReport, SnippetTarget
from .engine.config import EngineConfig
from .engine.outcome import FileOutcome
from .engine.values import EngineError
from .lake.root import find_lake_root
from .terminal import json_doc, json_text, palette, plural

ID_FIELDS = ("id", "custom_id")
CODE_FIELDS = ("code", "proof")


class LineError(StrEnum):
    EMPTY_LINE = "empty-line"
    INVALID_JSON = "invalid-json"
    NOT_AN_OBJECT = "not-an-object"
    MISSING_ID = "missing-id"
    MISSING_CODE = "missing-code"
    DUPLICATE_ID = "duplicate-id"


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str | int
    """As the input gave it (a string or an integer)."""
    code: str
    line: int
    """1-based line of the input."""

    @property
    def name(self) -> str:
        """The snippet's name as a check item: its id as text (ids are compared this way)."""
        return str(self.id)


@dataclass(frozen=True, slots=True)
class InvalidLine:
    line: int
    kind: LineError
    message: str
    id: str | int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "line": self.line,
            "status": "invalid",
            "error": {"kind": str(self.kind), "message": self.message},
        }


def read_snippets(lines: Iterable[str]) -> tuple[list[Snippet], list[InvalidLine]]:
    """Snippets in input order, and the lines that are none (each with its reason)."""
    snippets: list[Snippet] = []
    invalid: list[InvalidLine] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            invalid.append(InvalidLine(number, LineError.EMPTY_LINE, "an empty line (each line must be a snippet)"))
            continue
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as e:
            invalid.append(InvalidLine(number, LineError.INVALID_JSON, f"not JSON: {str(e)[:200]}"))
            continue
        if not isinstance(doc, dict):
            invalid.append(InvalidLine(number, LineError.NOT_AN_OBJECT, "a snippet is a JSON object"))
            continue
        ident = next((doc[f] for f in ID_FIELDS if f in doc), None)
        code = next((doc[f] for f in CODE_FIELDS if f in doc), None)
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            problem = "no `id` (or `custom_id`)" if ident is None else "`id` must be a string or an integer"
            invalid.append(InvalidLine(number, LineError.MISSING_ID, problem))
            continue
        if not isinstance(code, str):
            problem = "no `code` (or `proof`)" if code is None else "`code` must be a string"
            invalid.append(InvalidLine(number, LineError.MISSING_CODE, problem, ident))
            continue
        first = seen.setdefault(str(ident), number)
        if first != number:
            invalid.append(
                InvalidLine(number, LineError.DUPLICATE_ID, f"id {ident!r} was given on line {first}", ident)
            )
            continue
        snippets.append(Snippet(ident, code, number))
    return snippets, invalid


@dataclass(frozen=True, slots=True)
class SnippetInput:
    snippets: list[Snippet]
    invalid: list[InvalidLine]
    folder: Path | None
    """The Lake project's root the snippets run in; None: the bare toolchain."""


def snippet_input(source: str, project: str | None) -> SnippetInput | str:
    """The snippets of `source` (a file, or `-` for stdin) and where they run: `project`'s Lake
    project, else the working folder's, else (no project there) the bare toolchain; or what is wrong."""
    where = Path(project if project is not None else ".").resolve()
    search = find_lake_root(where)
    if search.found is None and project is not None:
        return search.diagnostics[-1].render()
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return f"{source}: cannot read the snippets: {e}"
    lines = text.split("\n")  # only newlines end a JSON line (`splitlines` would cut at U+2028 too)
    if lines[-1] == "":
        lines.pop()
    snippets, invalid = read_snippets(lines)
    return SnippetInput(snippets, invalid, search.found.root if search.found is not None else None)


def not_snippets(count: int) -> str:
    return "1 input line was not a snippet" if count == 1 else f"{plural(count, 'input line')} were not snippets"


def snippet_json(snippet: Snippet, outcome: FileOutcome) -> dict[str, object]:
    """A snippet's outcome line: its id and line, then a file outcome's fields but `path` and
    `module` (positions are the snippet's own: 0-based lines, UTF-16 columns, as LSP's)."""
    doc = {k: v for k, v in outcome.to_json().items() if k not in ("path", "module")}
    return {"id": snippet.id, "line": snippet.line, **doc}


@dataclass(frozen=True, slots=True)
class SnippetReport:
    report: CheckReport
    snippets: tuple[Snippet, ...]
    invalid: tuple[InvalidLine, ...]

    @property
    def failed(self) -> bool:
        return self.report.failed or bool(self.invalid)

    def summary(self) -> dict[str, object]:
        doc = self.report.to_json()
        del doc["files"]
        return {"snippets": len(self.report.outcomes), "invalidLines": len(self.invalid), **doc}


def write_invalid(invalid: Iterable[InvalidLine], out: TextIO) -> None:
    for bad in invalid:
        out.write(json_text(bad.to_json()) + "\n")
    out.flush()


async def run_snippets(
    snippets: list[Snippet],
    invalid: list[InvalidLine],
    folder: Path | None,
    options: CheckOptions,
    engine_config: EngineConfig,
    daemon: Path | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> SnippetReport | EngineError:
    """Check `snippets` in the project holding `folder` (None: the bare toolchain); JSONL lines
    (invalid lines first, then each outcome as it finishes, then a summary) or one JSON document."""
    by_name = {s.name: s for s in snippets}
    codes = {s.name: s.code for s in snippets}
    stream = options.output == "jsonl"

    def emit_one(outcome: FileOutcome) -> None:
        if stream:
            out.write(json_text(snippet_json(by_name[outcome.path], outcome)) + "\n")
            out.flush()

    if stream:
        write_invalid(invalid, out)
    config = pool_for(engine_config, options)
    folders = [folder] if folder is not None else []
    async with target_for(options, config, daemon, folders) as (door, where):
        target = SnippetTarget(door, codes, None if folder is None else str(folder))
        items = list(codes)
        report = await run_items(target, items, options, where, emit_one, err, "snippet", str)
    if isinstance(report, EngineError):
        return report
    done = SnippetReport(report, tuple(snippets), tuple(invalid))
    if options.output == "json":
        outcomes = {o.path: o for o in report.outcomes}
        doc = {
            "snippets": [snippet_json(s, outcomes[s.name]) for s in snippets],
            "invalid": [bad.to_json() for bad in invalid],
            "summary": done.summary(),
        }
        out.write(json_doc(doc))
    elif stream:
        out.write(json_text({"summary": done.summary()}) + "\n")
    if not options.quiet:
        if invalid:
            err.write(f"lean-batchd: {not_snippets(len(invalid))} (see their JSONL lines)\n")
        finish_summary(report, err, palette(err, options.color), "snippet")
    return done


async def run_snippet_bench(
    snippets: list[Snippet], folder: Path | None, options: CheckOptions, engine_config: EngineConfig, err: TextIO
) -> tuple[SnippetReport, SnippetReport] | EngineError:
    """A fresh worker per snippet, then planned, each on workers of this process."""
    quiet = replace(options, quiet=True, output="none", cache=False)  # compare elaborations, not lookups
    reports: list[SnippetReport] = []
    for planned in (False, True):
        err.write(f"lean-batchd bench: {'planned' if planned else 'naive'} ...\n")
        got = await run_snippets(snippets, [], folder, replace(quiet, planned=planned), engine_config, None, err, err)
        if isinstance(got, EngineError):
            return got
        reports.append(got)
    return reports[0], reports[1]
