"""`lean-toolchain` classification and `lake-manifest.json` versions."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from lean_batchd.lake import Code, ToolchainKind
from lean_batchd.lake.manifest import read_manifest
from lean_batchd.lake.toolchain import classify, read_toolchain_file, support_diagnostics


@pytest.mark.parametrize(
    ("spec", "kind", "origin", "version"),
    [
        ("leanprover/lean4:v4.22.0", ToolchainKind.RELEASE, "leanprover/lean4", "4.22.0"),
        ("leanprover/lean4:v4.29.0-rc8", ToolchainKind.RELEASE, "leanprover/lean4", "4.29.0-rc8"),
        ("v4.9.0", ToolchainKind.RELEASE, "leanprover/lean4", "4.9.0"),
        ("4.9.0", ToolchainKind.RELEASE, "leanprover/lean4", "4.9.0"),
        ("leanprover/lean4:nightly-2024-05-01", ToolchainKind.NIGHTLY, "leanprover/lean4", "2024-05-01"),
        ("leanprover/lean4:nightly-2025-01-02-rev1", ToolchainKind.NIGHTLY, "leanprover/lean4", "2025-01-02"),
        ("leanprover/lean4-pr-releases:pr-release-1234", ToolchainKind.PR, "leanprover/lean4-pr-releases", "1234"),
        ("leanprover/lean4:4.9.0", ToolchainKind.OTHER, "leanprover/lean4", "4.9.0"),
        ("stable", ToolchainKind.OTHER, None, "stable"),
        ("leanprover-community/lean:3.51.1", ToolchainKind.OTHER, "leanprover-community/lean", "3.51.1"),
        ("../my-lean", ToolchainKind.OTHER, None, None),
        ("", ToolchainKind.NONE, None, None),
    ],
)
def test_classification(spec: str, kind: ToolchainKind, origin: str | None, version: str | None) -> None:
    t = classify(spec)
    assert (t.kind, t.origin, t.version) == (kind, origin, version)


def test_only_the_first_line_counts(tmp_path: Path) -> None:
    (tmp_path / "lean-toolchain").write_text("  leanprover/lean4:v4.24.0  \nleanprover/lean4:v4.1.0\n")
    t, notes = read_toolchain_file(tmp_path / "lean-toolchain")
    assert t.spec == "leanprover/lean4:v4.24.0" and notes == []
    assert read_toolchain_file(tmp_path / "missing")[0].kind is ToolchainKind.NONE


def test_unsupported_toolchains() -> None:
    (d,) = support_diagnostics(classify("leanprover-community/lean:3.51.1"), "lean-toolchain")
    assert d.code is Code.UNSUPPORTED_TOOLCHAIN and "Lean 3" in d.message
    assert support_diagnostics(classify("leanprover/lean4:v4.24.0"), "t") == []
    (d,) = support_diagnostics(classify("v4.2.0"), "t", minimum=(4, 9, 0))
    assert "outside the supported window" in d.message
    assert support_diagnostics(classify("v4.30.0"), "t", maximum=(4, 29, 0))


def _manifest(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "lake-manifest.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("version", [5, 6, 7, "1.0.0", "1.1.0", "1.2.0"])
def test_manifest_versions(tmp_path: Path, version: object) -> None:
    entry = {"type": "git", "name": "dep", "url": "u", "rev": "r", "inputRev": "main", "inherited": False}
    if isinstance(version, int) and version < 7:
        entry = {"git": {"name": "dep", "url": "u", "rev": "r", "inputRev?": "main"}}
    m, notes = read_manifest(_manifest(tmp_path, {"version": version, "packagesDir": "pk", "packages": [entry]}))
    assert notes == [] and m is not None
    assert m.packages_dir == PurePosixPath("pk") and [(p.name, p.type, p.url) for p in m.packages] == [
        ("dep", "git", "u")
    ]


def test_manifest_fields_and_locations(tmp_path: Path) -> None:
    data = {
        "version": "1.2.0",
        "packages": [
            {"type": "git", "name": "g", "url": "u", "rev": "r", "subDir": "sub", "scope": "s", "inherited": True},
            {"type": "path", "name": "p", "dir": "../p", "inherited": False},
        ],
        "name": "root",
        "fixedToolchain": False,
    }
    m, _ = read_manifest(_manifest(tmp_path, data))
    assert m is not None and m.name == "root"
    g, p = m.packages
    assert g.location(tmp_path, PurePosixPath(".lake/packages")) == tmp_path / ".lake/packages/g/sub"
    assert p.location(tmp_path, PurePosixPath(".lake/packages")) == tmp_path / "../p"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{", "not valid JSON"),
        ([], "JSON object"),
        ({"version": 4, "packages": []}, "not supported"),
        ({"version": "2.0.0", "packages": []}, "not supported"),
        ({"version": "x", "packages": []}, "unknown manifest version"),
        ({"version": "1.1.0", "packages": {}}, "must be an array"),
    ],
)
def test_damaged_manifests_are_diagnostics(tmp_path: Path, data: object, message: str) -> None:
    path = tmp_path / "lake-manifest.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    m, notes = read_manifest(path)
    assert m is None and notes[0].code is Code.MANIFEST_ERROR and message in notes[0].message


def test_bad_entries_are_skipped(tmp_path: Path) -> None:
    m, notes = read_manifest(_manifest(tmp_path, {"version": "1.1.0", "packages": [{"name": "x"}, 3]}))
    assert m is not None and m.packages == () and len(notes) == 2


def test_absent_manifest(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / "lake-manifest.json") == (None, [])
