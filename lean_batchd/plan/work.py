"""Work items: the modules (or snippets) a plan assigns to sessions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..lake.header import Import, Position
from ..lake.options import LeanOptions
from ..lake.project import LakeProject
from .keys import header_imports


@dataclass(frozen=True, slots=True)
class ModuleWork:
    module: str
    path: str
    source_root: str
    imports: tuple[Import, ...]
    """The header's imports in header order, duplicates removed (what a `header` session imports)."""
    is_module: bool = False
    prelude: bool = False
    library: str | None = None
    """The Lake library that owns the module (the capability target); None outside libraries."""
    header_end: Position | None = None
    """Where the header ends in the file: a worker elaborates the text after it."""
    options: LeanOptions = ()
    """The Lean options Lake elaborates the module with (see `module_options`)."""

    def to_json(self) -> dict[str, object]:
        return {"module": self.module, "path": self.path, "library": self.library}

    def __reduce__(self) -> tuple[type[ModuleWork], tuple[object, ...]]:
        """Pickled as its constructor call: a stored plan loads twice as fast as from dataclass state."""
        fields = (self.module, self.path, self.source_root, self.imports, self.is_module, self.prelude)
        return (ModuleWork, (*fields, self.library, self.header_end, self.options))


def module_options(project: LakeProject, module: str) -> LeanOptions:
    """The options Lake elaborates `module` with (`leanOptions` and `-D` entries of
    `moreLeanArgs`, package and library, in Lake's precedence: the Lake model's answer)."""
    return project.lean_options(module) or ()


def work_from_model(project: LakeProject, modules: Iterable[str] | None = None) -> list[ModuleWork]:
    """Work items for the project's own modules (all of them, or the named ones that exist)."""
    if modules is None:
        chosen = project.local_modules()
    else:
        found = (project.graph.get(n) for n in sorted(set(modules)) if project.is_local(n))
        chosen = [m for m in found if m is not None]
    out = []
    bases = {layout.lib.name: project.display(str(layout.base)) for layout in project.layout.libs}
    exe_dirs = {exe.exe.name: project.display(str(exe.path.parent)) for exe in project.layout.exes}
    for m in chosen:
        root = bases[m.library] if m.library is not None else exe_dirs.get(m.exe or "", ".")
        header = m.header
        out.append(
            ModuleWork(
                module=m.name,
                path=m.source.shown,
                source_root=root,
                imports=header_imports(header.imports),
                is_module=header.is_module,
                prelude=header.prelude,
                library=m.library,
                header_end=header.end,
                options=module_options(project, m.name),
            )
        )
    return out
