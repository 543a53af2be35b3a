"""Engine values as LSP results (camelCase JSON) and LSP types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types

from ..engine.snapshot import FileDiagnostics
from ..lake.diagnostics import Diagnostic, Severity
from ..lake.fingerprint import ProjectFingerprint
from ..plan.planner import Plan
from ..workers.worker import WorkerInfo
from .methods import uri_of_path

_SEVERITY = {
    Severity.ERROR: int(types.DiagnosticSeverity.Error),
    Severity.WARNING: int(types.DiagnosticSeverity.Warning),
    Severity.INFO: int(types.DiagnosticSeverity.Information),
}


def plan_result(plan: Plan, root: Path, generation: int, pending: bool) -> dict[str, Any]:
    s = plan.stats
    return {
        "generation": generation,
        "pending": pending,
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


def fingerprint_result(fp: ProjectFingerprint, generation: int, pending: bool) -> dict[str, Any]:
    return {
        "generation": generation,
        "pending": pending,
        "digest": fp.digest,
        "toolchain": fp.toolchain,
        "lakefileDigest": fp.lakefile_digest,
        "manifestDigest": fp.manifest_digest,
        "sourceCount": fp.source_count,
        "sourceMaxMtimeNs": fp.source_max_mtime_ns,
        "sourceDigest": fp.source_digest,
        "dependencyDigest": fp.dependency_digest,
    }


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


def lsp_diagnostic(d: Diagnostic, text: str) -> dict[str, Any]:
    """An LSP `Diagnostic` as JSON; `text` is the line it points at (columns count UTF-16 units).
    Plain JSON: no generic (de)serialisation on the way to the client."""
    line0 = max((d.line or 1) - 1, 0)
    start = utf16_column(text, d.column or 0)
    end = max(start + 1, len(text.encode("utf-16-le")) // 2) if d.line is not None else start
    return {
        "range": {"start": {"line": line0, "character": start}, "end": {"line": line0, "character": end}},
        "message": d.message,
        "severity": _SEVERITY[d.severity],
        "code": str(d.code),
        "source": "lean-batchd",
    }


def publish_diagnostics(uri: str, found: FileDiagnostics) -> dict[str, Any]:
    return {
        "uri": uri,
        "diagnostics": [lsp_diagnostic(d, found.lines.get(d.line or 1, "")) for d in found.diagnostics],
    }
