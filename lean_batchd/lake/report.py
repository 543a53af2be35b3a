"""The project model as the `discover` command shows it: one JSON document, or a summary."""

from __future__ import annotations

from typing import Any

from .diagnostics import Diagnostic, Severity
from .graph import Module
from .header import Position
from .project import LakeProject


def _place(p: Position) -> dict[str, int]:
    return {"line": p.line, "column": p.column}


def planning_note(project: LakeProject, module: Module) -> str | None:
    """Why a module some library other than its owner builds is planned where it is (None when plain)."""
    built_by = project.built_by(module.name)
    owner = module.library
    if owner is None or list(built_by) == [owner] or not project.is_local(module.name):
        return None
    if project.layout.owner(module.name) is None:
        return f"no library can build {module.name} (an orphan of {owner}); planned with the package's options"
    others = [b for b in built_by if b != owner]
    if not others:
        return f"no library builds {module.name} (an orphan); planned in its owner {owner}'s session"
    shown = " and ".join(others)
    return (
        f"also built by {shown} (`lake build {others[0]}` compiles it with that library's options); planned "
        f"once, in {owner}'s session with {owner}'s options, because imports of it and the editor resolve "
        "to the last-declared library that can build it (Lake's Package.findModule?, Package.findModuleBySrc?)"
    )


def module_json(project: LakeProject, module: Module) -> dict[str, Any]:
    header = module.header
    return {
        "name": module.name,
        "path": project.display(module.path),
        "package": module.package,
        "library": module.library,
        "built_by": list(project.built_by(module.name)),
        "options": dict(project.lean_options(module.name) or ()),
        "planning_note": planning_note(project, module),
        "exe": module.exe,
        "is_module": header.is_module,
        "prelude": header.prelude,
        "imports": [
            {**imp.to_json(), **_place(at), "resolution": res.to_json()}
            for imp, res, at in zip(module.imports, module.resolutions, header.positions(), strict=True)
        ],
        "header_end": header.end.to_json(),
        "body_start": header.body_start.to_json(),
        "digest": module.digest,
        "header_digest": module.header_digest,
        "closure_digest": project.graph.closure_digest(module.name),
    }


def project_json(project: LakeProject) -> dict[str, Any]:
    ws = project.workspace
    config = ws.config
    return {
        "project_root": str(project.root.root),
        "lakefile": project.display(str(project.root.lakefile)),
        "lakefile_kind": str(project.root.kind),
        "package": {
            "name": config.name,
            "src_dir": str(config.src_dir),
            "build_dir": str(config.build_dir),
            "packages_dir": str(ws.packages_dir),
            "default_targets": list(config.default_targets),
            "legacy": config.legacy,
            "dynamic_fields": list(config.dynamic_fields),
        },
        "toolchain": ws.toolchain.to_json(),
        "libraries": [
            {
                "name": lib.library.name,
                "src_dir": lib.base,
                "roots": list(lib.library.roots),
                "globs": [g.render() for g in lib.library.globs],
                "lib_name": lib.library.lib_name,
                "default_target": lib.library.default_target,
                "dynamic_fields": list(lib.library.dynamic_fields),
                "options": dict(lib.options),
                "modules": list(lib.built),
                "selected": list(lib.selected),
                "orphans": list(lib.orphans),
            }
            for lib in project.libraries()
        ],
        "executables": [
            {
                "name": exe.exe.name,
                "root": exe.exe.root,
                "exe_name": exe.exe.exe_name,
                "path": project.display(str(exe.path)),
                "default_target": exe.exe.default_target,
            }
            for exe in project.layout.exes
        ],
        "requires": [r.to_json() for r in config.requires],
        "packages": [
            {
                **entry.to_json(),
                "present": entry.name not in ws.missing,
                "location": project.display(str(entry.location(project.root.root, ws.packages_dir))),
            }
            for entry in (ws.manifest.packages if ws.manifest else ())
        ],
        "modules": [module_json(project, m) for m in project.local_modules()],
        "dependency_modules": len(project.graph) - len(project.local_modules()),
        "fingerprint": project.fingerprint().to_json(),
        "diagnostics": [d.to_json() for d in project.diagnostics()],
    }


def severity_counts(diagnostics: list[Diagnostic]) -> str:
    counts = {s: sum(1 for d in diagnostics if d.severity is s) for s in Severity}
    return ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n) or "none"


def project_summary(project: LakeProject, limit: int = 20) -> str:
    ws = project.workspace
    local = project.local_modules()
    lines = [
        f"Lake project {project.name} at {project.root.root} ({project.display(str(project.root.lakefile))})",
        f"toolchain: {ws.toolchain.spec or '(no lean-toolchain)'} [{ws.toolchain.kind}]"
        + (f", {ws.toolchain.lean_version}" if ws.toolchain.lean_version else ""),
        "libraries:",
    ]
    for lib in project.libraries():
        globs = ", ".join(g.render() for g in lib.library.globs)
        flag = " (dynamic: " + ", ".join(lib.library.dynamic_fields) + ")" if lib.library.dynamic_fields else ""
        lines.append(
            f"  {lib.library.name:<24} {len(lib.built):>6} built, {len(lib.selected)} selected, "
            f"{len(lib.orphans)} orphans  [src {lib.base}; globs {globs}]{flag}"
        )
    for exe in project.layout.exes:
        lines.append(f"  exe {exe.exe.name:<20} root {exe.exe.root} ({project.display(str(exe.path))})")
    if ws.manifest is not None:
        shown = ", ".join(f"{p.name}{'' if p.name not in ws.missing else ' (missing)'}" for p in ws.manifest.packages)
        lines.append(f"packages: {shown or 'none'}")
    import_sets = {m.header.normalized() for m in local}
    lines.append(
        f"modules: {len(local)} local, {len(project.graph) - len(local)} from packages; "
        f"{sum(len(m.imports) for m in local)} imports; {len(import_sets)} distinct import sets"
    )
    lines.append(f"fingerprint: {project.fingerprint().digest[:16]}")
    diagnostics = project.diagnostics()
    lines.append(f"diagnostics: {severity_counts(diagnostics)}")
    ranked = sorted(diagnostics, key=lambda d: ["error", "warning", "info"].index(d.severity))
    lines.extend("  " + d.render() for d in ranked[:limit])
    if len(diagnostics) > limit:
        lines.append(f"  … {len(diagnostics) - limit} more (use --json for all)")
    return "\n".join(lines)
