"""What the model finds wrong, as diagnostics: per module (names, header, unresolved imports),
per name (a library's copy imports never reach), per graph (import cycles).

Plain functions over the model's values: the project decides what to ask and caches
each module's findings while its `Module` value stays the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from .diagnostics import Code, Diagnostic, Severity, diagnostic
from .graph import Module, ModuleGraph, Resolution, ResolutionKind
from .header import Header
from .layout import Claim, PackageLayout, name_diagnostics


def module_findings(module: Module, packages_missing: bool) -> list[Diagnostic]:
    """A module's name, its header's own diagnostics and its unresolved imports (warnings
    rather than errors while some dependency packages are not on disk)."""
    shown_path = module.source.shown
    return name_diagnostics(module.name, shown_path) + header_findings(
        module.header, module.resolutions, shown_path, packages_missing
    )


def header_findings(
    header: Header, resolutions: Sequence[Resolution], shown_path: str, packages_missing: bool
) -> list[Diagnostic]:
    """A header's own diagnostics and its unresolved imports: a saved module's, or an editor's
    unsaved buffer's."""
    out = list(header.diagnostics)
    severity = Severity.WARNING if packages_missing else Severity.ERROR
    found = zip(header.imports, resolutions, strict=True)
    unresolved = {i.offset: r for i, r in found if r.kind is ResolutionKind.UNRESOLVED}
    if not unresolved:
        return out
    for imp, at in zip(header.imports, header.positions(), strict=True):
        if imp.offset in unresolved:
            message = f"cannot resolve import {imp.module}: {unresolved[imp.offset].reason}"
            out.append(diagnostic(Code.UNRESOLVED_IMPORT, severity, message, shown_path, at.line, at.column))
    return out


def cycle_findings(graph: ModuleGraph) -> list[Diagnostic]:
    out = []
    for cycle in graph.cycles():
        first = graph.modules[cycle[0]]
        target = cycle[1] if len(cycle) > 1 else cycle[0]
        place = next((first.header.position(i) for i in first.imports if i.module == target), None)
        out.append(
            diagnostic(
                Code.IMPORT_CYCLE,
                Severity.ERROR,
                "import cycle: " + " → ".join((*cycle, cycle[0])),
                first.source.shown,
                place.line if place else None,
                place.column if place else None,
            )
        )
    return out


def clash_findings(
    claimants: Mapping[str, Sequence[Claim]],
    modules: Mapping[str, Module],
    layout: PackageLayout,
    home: Callable[[str], Claim | None],
    display: Callable[[str], str],
) -> list[Diagnostic]:
    """A library's file whose module name resolves to another file (same name, another
    library's source folder): imports never reach it, though its own library may build it."""
    out = []
    for name, claims in claimants.items():
        if len(claims) == 1 and (held := modules.get(name)) is not None and held.path == claims[0].path:
            continue
        held_claim = home(name)
        for claim in claims:
            if claim.library is None or (held_claim is not None and claim.path == held_claim.path):
                continue
            owner = layout.owner(name)
            if owner is None:
                if held_claim is None or held_claim.exe is not None:
                    continue
                target = f"library {held_claim.library}'s file {display(held_claim.path)} (no library can build it)"
            else:
                target = f"library {owner.lib.name}'s file {display(owner.file_of(name))}"
                if held_claim is None:
                    target += ", which does not exist"
            lib = layout.by_name[claim.library].lib
            builds = any(g.matches(name) for g in lib.globs)
            out.append(
                diagnostic(
                    Code.DUPLICATE_MODULE,
                    Severity.WARNING,
                    f"this file is module {name} of library {claim.library}, but the model holds {target} "
                    f"as {name}, where imports of it resolve (Lake's Package.findModule?)"
                    + (f"; `lake build {claim.library}` builds this copy too" if builds else ""),
                    claim.path,
                )
            )
    return out


def shown(found: list[Diagnostic], display: Callable[[str], str]) -> list[Diagnostic]:
    """De-duplicated, with paths as users see them, in file and position order."""
    unique = {replace(d, path=display(d.path)) if d.path else d for d in found}
    return sorted(unique, key=lambda d: (d.path or "", d.line or 0, d.column or 0, d.code, d.message))
