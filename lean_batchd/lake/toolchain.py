"""`lean-toolchain`, classified as Lake does (`ToolchainVer.ofString`), plus `lean --version`.

The toolchain is part of every session key: a worker built for one Lean
version must never serve a project pinned to another.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .files import FileProblem, Problem, read_capped

DEFAULT_ORIGIN = "leanprover/lean4"
PR_ORIGIN = "leanprover/lean4-pr-releases"
SUPPORTED_MIN = (4, 0, 0)
TOOLCHAIN_LIMIT = 64 * 1024
"""Real `lean-toolchain` files are one short line."""

_SPEC_RE = re.compile(r"^(?:(?P<origin>[A-Za-z0-9\-_]+/[A-Za-z0-9\-_]+):)?(?P<release>[A-Za-z0-9\-.]+)$")
_STDVER_RE = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?:-(?P<special>[A-Za-z0-9.\-]+))?$")
_NIGHTLY_RE = re.compile(r"^nightly-(?P<date>\d{4}-\d{2}-\d{2})(?:-rev(?P<rev>\d+))?$")
_PR_RE = re.compile(r"^pr-release-(?P<number>\d+)$")


class ToolchainKind(StrEnum):
    RELEASE = "release"
    NIGHTLY = "nightly"
    PR = "pr"
    OTHER = "other"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Toolchain:
    spec: str
    """The first line of `lean-toolchain`, trimmed ('' when there is none)."""
    kind: ToolchainKind
    origin: str | None
    version: str | None
    """`4.22.0-rc1` for releases, the date for nightlies, the PR number for PR builds."""
    lean_version: str | None = None
    """What `lean --version` printed, when a `lean` is on PATH."""

    def to_json(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "kind": str(self.kind),
            "origin": self.origin,
            "version": self.version,
            "lean_version": self.lean_version,
        }

    @property
    def identity(self) -> str:
        """What makes two toolchains the same for a worker."""
        return f"{self.spec}|{self.lean_version or ''}"


def classify(spec: str) -> Toolchain:
    spec = spec.strip()
    if not spec:
        return Toolchain("", ToolchainKind.NONE, None, None)
    if spec.startswith(("/", "./", "../")):
        return Toolchain(spec, ToolchainKind.OTHER, None, None)
    m = _SPEC_RE.match(spec)
    if m is None:
        return Toolchain(spec, ToolchainKind.OTHER, None, None)
    origin, release = m.group("origin"), m.group("release")
    ver = _STDVER_RE.match(release)
    if ver and (origin in (None, DEFAULT_ORIGIN)) and (release.startswith("v") or origin is None):
        version = release.removeprefix("v")
        return Toolchain(spec, ToolchainKind.RELEASE, origin or DEFAULT_ORIGIN, version)
    nightly = _NIGHTLY_RE.match(release)
    if nightly and origin in (None, DEFAULT_ORIGIN, DEFAULT_ORIGIN + "-nightly"):
        return Toolchain(spec, ToolchainKind.NIGHTLY, origin or DEFAULT_ORIGIN, nightly.group("date"))
    pr = _PR_RE.match(release)
    if pr and origin in (None, PR_ORIGIN):
        return Toolchain(spec, ToolchainKind.PR, PR_ORIGIN, pr.group("number"))
    return Toolchain(spec, ToolchainKind.OTHER, origin, release)


def version_tuple(toolchain: Toolchain) -> tuple[int, int, int] | None:
    if toolchain.kind is not ToolchainKind.RELEASE or toolchain.version is None:
        return None
    m = _STDVER_RE.match(toolchain.version)
    assert m is not None
    return int(m.group("major")), int(m.group("minor")), int(m.group("patch"))


def support_diagnostics(
    toolchain: Toolchain,
    path: str,
    minimum: tuple[int, int, int] = SUPPORTED_MIN,
    maximum: tuple[int, int, int] | None = None,
) -> list[Diagnostic]:
    """Lean 3 toolchains, and releases outside the configured window, are unsupported."""
    if (toolchain.origin is not None and toolchain.origin.endswith("/lean")) or toolchain.spec.startswith(
        ("3.", "v3.")
    ):
        return [
            diagnostic(
                Code.UNSUPPORTED_TOOLCHAIN,
                Severity.ERROR,
                f"`{toolchain.spec}` is a Lean 3 toolchain; lean-batchd works with Lean 4 and Lake",
                path,
                1,
                0,
            )
        ]
    version = version_tuple(toolchain)
    if version is None:
        return []
    if version < minimum or (maximum is not None and version > maximum):
        window = f"{'.'.join(map(str, minimum))} … {'.'.join(map(str, maximum)) if maximum else 'newest'}"
        return [
            diagnostic(
                Code.UNSUPPORTED_TOOLCHAIN,
                Severity.ERROR,
                f"Lean {toolchain.version} is outside the supported window ({window})",
                path,
                1,
                0,
            )
        ]
    return []


def read_toolchain_file(path: Path) -> tuple[Toolchain, list[Diagnostic]]:
    """Only the first line counts (elan's rule); a missing file is no toolchain, not an error."""
    read = read_capped(path, TOOLCHAIN_LIMIT)
    if isinstance(read, FileProblem):
        if read.kind is Problem.MISSING:
            return classify(""), []
        return classify(""), [diagnostic(Code.IO_ERROR, Severity.WARNING, f"cannot read: {read.message}", path)]
    return toolchain_from_text(read[0].decode("utf-8", errors="replace")), []


def toolchain_from_text(text: str) -> Toolchain:
    """elan's rule: the first line (Rust's `lines()`: split at `\\n`), trimmed."""
    return classify(text.split("\n", 1)[0])


def lean_version(cwd: Path, timeout: float = 10.0) -> str | None:
    """`lean --version` run in the project root `cwd` (elan's `lean` runs the toolchain the
    `lean-toolchain` there names, not the one of wherever the daemon started) when a Lean is on
    PATH; None otherwise (absence is normal here)."""
    lean = shutil.which("lean")
    if lean is None:
        return None
    import subprocess  # here, not above: a run answered from the store asks this only with a Lean

    try:
        done = subprocess.run(
            [lean, "--version"], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None
