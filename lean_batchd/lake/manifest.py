"""`lake-manifest.json`: which dependency packages exist and where (`Lake/Load/Manifest.lean`).

The root manifest lists the whole transitive closure of dependencies, so it
alone tells where every package's sources are; dependencies' own manifests are
never needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .files import CONFIG_LIMIT, FileProblem, Problem, read_capped

_SEMVER_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-.*)?$")
NEWEST_KNOWN = (1, 2, 0)


@dataclass(frozen=True, slots=True)
class ManifestPackage:
    name: str
    type: str
    """`git` or `path`."""
    url: str | None = None
    dir: str | None = None
    rev: str | None = None
    input_rev: str | None = None
    sub_dir: str | None = None
    scope: str = ""
    inherited: bool = False
    config_file: str = "lakefile"

    def location(self, root: Path, packages_dir: PurePosixPath) -> Path:
        """Where the package's sources are: `packagesDir/<name>[/<subDir>]`, or its `dir`."""
        if self.type == "path":
            return root / (self.dir or ".")
        base = root / packages_dir / self.name
        return base / self.sub_dir if self.sub_dir else base

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "url": self.url,
            "dir": self.dir,
            "rev": self.rev,
            "input_rev": self.input_rev,
            "sub_dir": self.sub_dir,
            "scope": self.scope,
            "inherited": self.inherited,
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    version: tuple[int, int, int]
    packages_dir: PurePosixPath | None
    name: str | None
    packages: tuple[ManifestPackage, ...]


def _version(raw: object) -> tuple[int, int, int] | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return (0, raw, 0)
    if isinstance(raw, str):
        m = _SEMVER_RE.match(raw)
        if m:
            return int(m.group(1)), int(m.group(2)), int(m.group(3))
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _entry(raw: dict[str, Any], legacy: bool) -> ManifestPackage | None:
    """One package entry; before v7 the source sits under a `git` or `path` key."""
    if legacy and ("git" in raw or "path" in raw):
        source = "git" if "git" in raw else "path"
        inner = raw[source] if isinstance(raw[source], dict) else {}
        raw = {**inner, "type": source, "name": inner.get("name", raw.get("name"))}
    name, kind = _str(raw.get("name")), _str(raw.get("type"))
    if name is None or kind is None or kind not in ("git", "path"):
        return None
    return ManifestPackage(
        name=name,
        type=kind,
        url=_str(raw.get("url")),
        dir=_str(raw.get("dir")),
        rev=_str(raw.get("rev")),
        input_rev=_str(raw.get("inputRev")),
        sub_dir=_str(raw.get("subDir")),
        scope=_str(raw.get("scope")) or "",
        inherited=bool(raw.get("inherited", False)),
        config_file=_str(raw.get("configFile")) or "lakefile",
    )


def read_manifest(path: Path) -> tuple[Manifest | None, list[Diagnostic]]:
    """The manifest, or None when absent; damage becomes `manifest-error` diagnostics."""
    read = read_capped(path, CONFIG_LIMIT)
    if isinstance(read, FileProblem):
        if read.kind is Problem.MISSING:
            return None, []
        return None, [diagnostic(Code.IO_ERROR, Severity.ERROR, f"cannot read the manifest: {read.message}", path)]
    try:
        text = read[0].decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [diagnostic(Code.MANIFEST_ERROR, Severity.ERROR, f"not UTF-8 (byte {e.start})", path)]
    return manifest_from_text(text, path)


def manifest_from_text(text: str, path: Path | str) -> tuple[Manifest | None, list[Diagnostic]]:
    def error(message: str, line: int | None = None, column: int | None = None) -> tuple[None, list[Diagnostic]]:
        return None, [diagnostic(Code.MANIFEST_ERROR, Severity.ERROR, message, path, line, column)]

    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return error(f"not valid JSON: {e.msg}", e.lineno, e.colno - 1)
    except RecursionError:
        return error("not readable: arrays or objects nested too deep")
    except ValueError as e:  # an integer past Python's 4,300-digit conversion limit
        return error(f"not readable: {e}")
    if not isinstance(data, dict):
        return error("the manifest must be a JSON object")
    version = _version(data.get("version", data.get("schemaVersion")))
    if version is None:
        return error(f"unknown manifest version {data.get('version')!r}")
    if version < (0, 5, 0) or version[0] > 1:
        return error(f"manifest version {'.'.join(map(str, version))} is not supported by Lake (5 to 1.x)")
    notes: list[Diagnostic] = []
    if version > NEWEST_KNOWN:
        notes.append(
            diagnostic(
                Code.MANIFEST_ERROR,
                Severity.INFO,
                f"manifest version {'.'.join(map(str, version))} is newer than 1.2.0; read as 1.2.0",
                path,
            )
        )
    raw_packages = data.get("packages", [])
    if not isinstance(raw_packages, list):
        return error("`packages` must be an array")
    packages: list[ManifestPackage] = []
    for i, raw in enumerate(raw_packages):
        entry = _entry(raw, version < (0, 7, 0)) if isinstance(raw, dict) else None
        if entry is None:
            notes.append(
                diagnostic(
                    Code.MANIFEST_ERROR,
                    Severity.ERROR,
                    f"package entry {i + 1} lacks a `name` or a `type` of git/path; skipped",
                    path,
                )
            )
        else:
            packages.append(entry)
    packages_dir = _str(data.get("packagesDir"))
    return (
        Manifest(
            version=version,
            packages_dir=PurePosixPath(packages_dir) if packages_dir else None,
            name=_str(data.get("name")),
            packages=tuple(packages),
        ),
        notes,
    )
