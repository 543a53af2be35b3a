"""Typed diagnostics: expected failures are values, never exceptions.

Every reader in the Lake layer returns what it could understand together with
a tuple of `Diagnostic`s, so one bad file never hides the rest of a project.
Codes are a stable contract (the CLI's JSON, the LSP layer and editors key on
them); messages are for humans and may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Code(StrEnum):
    MISSING_LAKE_ROOT = "missing-lake-root"
    BOTH_LAKEFILES = "both-lakefiles"
    LEGACY_CONFIG = "legacy-config"
    LAKEFILE_PARSE_ERROR = "lakefile-parse-error"
    UNKNOWN_CONFIG_KEY = "unknown-config-key"
    DYNAMIC_CONFIG = "dynamic-config"
    MANIFEST_ERROR = "manifest-error"
    MISSING_PACKAGE = "missing-package"
    MISSING_MODULE_ROOT = "missing-module-root"
    INVALID_MODULE_NAME = "invalid-module-name"
    DUPLICATE_MODULE = "duplicate-module"
    HEADER_SYNTAX = "header-syntax"
    UNRESOLVED_IMPORT = "unresolved-import"
    IMPORT_CYCLE = "import-cycle"
    UNSUPPORTED_TOOLCHAIN = "unsupported-toolchain"
    IO_ERROR = "io-error"
    UNRESOLVED_TARGET = "unresolved-target"
    COVER_CAP_EXCEEDED = "cover-cap-exceeded"
    PLAN_OPTION = "plan-option"
    LEAN_OPTION = "lean-option"


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One finding, positioned where possible (line 1-based, column 0-based, as Lean reports)."""

    path: str | None
    line: int | None
    column: int | None
    code: Code
    severity: Severity
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "code": str(self.code),
            "severity": str(self.severity),
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }

    def render(self) -> str:
        """`path:line:col: severity: [code] message`, the shape Lean and compilers print."""
        where = self.path or "<project>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 0}"
        return f"{where}: {self.severity}: [{self.code}] {self.message}"


def diagnostic(
    code: Code,
    severity: Severity,
    message: str,
    path: Path | str | None = None,
    line: int | None = None,
    column: int | None = None,
) -> Diagnostic:
    return Diagnostic(
        path=None if path is None else str(path),
        line=line,
        column=column,
        code=code,
        severity=severity,
        message=message,
    )
