"""Engine values as LSP results (camelCase JSON) and LSP types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types

from ..lake.diagnostics import Diagnostic, Severity
from ..lake.fingerprint import ProjectFingerprint
from ..plan.diff import PlanDiff
from ..plan.planner import Plan
from ..workers.worker import WorkerInfo
from .methods import uri_of_path

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def plan_result(plan: Plan, root: Path) -> dict[str, Any]:
    s = plan.stats
    return {
        "profile": str(plan.profile),
        "strategy": str(plan.strategy),
        "batches": [
            {
                "id": b.id,
                "sessionKey": b.key.digest,
                "target": b.key.target,
                "imports": [i.render() for i in b.key.imports],
                "modules": [
                    {"module": w.module, "uri": uri_of_path(root / w.path), "library": w.library} for w in b.modules
                ],
                "fingerprint": b.fingerprint,
                "closureSize": b.closure_size,
            }
            for b in plan.batches
        ],
        "stats": {
            "modules": s.modules,
            "batches": s.batches,
            "importedModulesTotal": s.imported_modules_total,
            "naiveImportedModulesTotal": s.naive_imported_modules_total,
            "largestBatch": s.largest_batch,
            "largestClosure": s.largest_closure,
        },
        "diagnostics": [d.to_json() for d in plan.diagnostics],
    }


def fingerprint_result(fp: ProjectFingerprint) -> dict[str, Any]:
    return {
        "digest": fp.digest,
        "toolchain": fp.toolchain,
        "lakefileDigest": fp.lakefile_digest,
        "manifestDigest": fp.manifest_digest,
        "sourceCount": fp.source_count,
        "sourceMaxMtimeNs": fp.source_max_mtime_ns,
        "sourceDigest": fp.source_digest,
        "dependencyDigest": fp.dependency_digest,
    }


def plan_changed(root: Path, diff: PlanDiff, fp: ProjectFingerprint) -> dict[str, Any]:
    return {"root": uri_of_path(root), "fingerprint": fp.digest, "diff": diff.to_json()}


def worker_changed(info: WorkerInfo) -> dict[str, Any]:
    return {
        "sessionKey": info.key_digest,
        "state": str(info.state),
        "pid": info.pid,
        "memoryMb": round(info.memory.charge_mb, 1),
        "growthMb": round(info.growth_mb, 1),
        "imports": list(info.imports),
        "requests": info.requests,
        "recycles": info.recycles,
        "recyclePending": info.recycle_pending,
    }


def utf16_column(line: str, column: int) -> int:
    return len(line[:column].encode("utf-16-le")) // 2


def lsp_diagnostic(d: Diagnostic, lines: list[str]) -> types.Diagnostic:
    line0 = max((d.line or 1) - 1, 0)
    text = lines[line0] if line0 < len(lines) else ""
    start = utf16_column(text, d.column or 0)
    end = max(start + 1, len(text.encode("utf-16-le")) // 2) if d.line is not None else start
    return types.Diagnostic(
        range=types.Range(types.Position(line0, start), types.Position(line0, end)),
        message=d.message,
        severity=_SEVERITY[d.severity],
        code=str(d.code),
        source="lean-batchd",
    )
