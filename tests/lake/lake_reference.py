"""A reference for Lake's library rules, written from Lake's source, not from the model's code.

Names are tuples of components; files are POSIX paths relative to the package. Each rule
names the Lake function it transcribes.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

Name = tuple[str, ...]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_'!?]*")


def render(name: Name) -> str:
    """`Name.toString`: a component that is not an identifier is written `«…»`."""
    return ".".join(p if _IDENT.fullmatch(p) else f"«{p}»" for p in name)


def is_prefix(prefix: Name, name: Name) -> bool:
    """`Name.isPrefixOf`."""
    return name[: len(prefix)] == prefix


@dataclass(frozen=True)
class RefGlob:
    kind: str  # "one" | "submodules" | "andSubmodules"
    name: Name

    def matches(self, m: Name) -> bool:
        """`Glob.matches`."""
        if self.kind == "one":
            return m == self.name
        if self.kind == "submodules":
            return is_prefix(self.name, m) and m != self.name
        return is_prefix(self.name, m)


@dataclass(frozen=True)
class RefLib:
    name: str
    src_dir: str
    roots: tuple[Name, ...]
    globs: tuple[RefGlob, ...]

    def is_local(self, m: Name) -> bool:
        """`LeanLibConfig.isLocalModule`."""
        return any(is_prefix(r, m) for r in self.roots) or any(g.matches(m) for g in self.globs)

    def is_buildable(self, m: Name) -> bool:
        """`LeanLibConfig.isBuildableModule`."""
        return any(g.matches(m) for g in self.globs) or any(
            is_prefix(r, m) and any(g.matches(r) for g in self.globs) for r in self.roots
        )

    def file_of(self, m: Name) -> str:
        """`Module.leanFile`: `modToFilePath (pkg.srcDir / lib.srcDir) m "lean"`."""
        return posixpath.normpath(posixpath.join(self.src_dir, *m[:-1], m[-1] + ".lean"))


class Reference:
    def __init__(self, libs: list[RefLib], files: dict[str, list[Name]]) -> None:
        self.libs = libs
        self.files = files
        """Path -> the modules its header imports."""

    def modules_under(self, lib: RefLib) -> dict[Name, str]:
        """Every `.lean` file below the library's source folder, as the module it names there
        (`Lean.forEachModuleInDir`: folders and the file stem, one component each)."""
        out: dict[Name, str] = {}
        base = posixpath.normpath(lib.src_dir)
        for path in self.files:
            rel = path if base == "." else path[len(base) + 1 :] if path.startswith(base + "/") else None
            if rel is not None:
                parts = tuple(rel.split("/"))
                out[(*parts[:-1], parts[-1][: -len(".lean")])] = path
        return out

    def module_array(self, lib: RefLib) -> list[Name]:
        """`LeanLib.getModuleArray`: each glob over the library's folder (only files that exist)."""
        under = self.modules_under(lib)
        out: list[Name] = []
        for g in lib.globs:
            for m in sorted(under):
                if g.matches(m) and m not in out:
                    out.append(m)
        return out

    def find_module(self, m: Name) -> RefLib | None:
        """`Package.findModule?`: `leanLibs.findSomeRev?` over `isBuildableModule`."""
        for lib in reversed(self.libs):
            if lib.is_buildable(m):
                return lib
        return None

    def resolves(self, m: Name) -> str | None:
        """The file an import of `m` builds, when it exists."""
        owner = self.find_module(m)
        if owner is None:
            return None
        path = owner.file_of(m)
        return path if path in self.files else None

    def closure(self, lib: RefLib) -> dict[Name, str]:
        """`LeanLib.recCollectLocalModules`: the selected modules, then their imports (resolved
        for the package) while `lib.isLocalModule` holds. A selected module keeps its own file."""
        visited = {m: lib.file_of(m) for m in self.module_array(lib)}
        stack = list(visited)
        while stack:
            m = stack.pop()
            for imp in self.files.get(visited[m], []):
                if imp in visited or not lib.is_local(imp):
                    continue
                path = self.resolves(imp)
                if path is not None:
                    visited[imp] = path
                    stack.append(imp)
        return visited

    def territory(self, lib: RefLib) -> dict[Name, str]:
        """The library's files: those whose module is local to it."""
        return {m: p for m, p in self.modules_under(lib).items() if lib.is_local(m)}

    def answer(self) -> dict[str, tuple[list[str], list[str], list[str]]]:
        """Per library: (selected, built, orphans), rendered and sorted."""
        closures = {lib.name: self.closure(lib) for lib in self.libs}
        built_files = {p for c in closures.values() for p in c.values()}
        out = {}
        for lib in self.libs:
            selected = [render(m) for m in self.module_array(lib)]
            built = [render(m) for m in closures[lib.name]]
            orphans = [render(m) for m, p in self.territory(lib).items() if p not in built_files]
            out[lib.name] = (sorted(selected), sorted(built), sorted(orphans))
        return out

    def built_by(self, m: Name) -> list[str]:
        """The libraries that build the file an import of `m` reaches."""
        path = self.resolves(m)
        return [lib.name for lib in self.libs if path is not None and self.closure(lib).get(m) == path]
