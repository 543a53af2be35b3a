"""A connection's workspace: the folders in which it may name paths.

A connection may name only paths inside its workspace folders (`initialize`'s
`workspaceFolders` or `rootUri`, then `didChangeWorkspaceFolders`). One that
declares none (an editor with a single file open, the command line) has no
workspace until it opens a document: then that document's Lake project becomes
its workspace, as an editor's single-file mode would have it. Nothing is
inside an empty workspace.

Paths are compared after resolving symlinks on both sides, as the engine keys
projects: a workspace opened through a symlink holds its files, and a symlink
inside the workspace that points outside it is outside. Answers name files in
the client's own spelling (`uri`), so an editor that opened the workspace
through a symlink recognises them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..engine.managed import real_path
from . import methods as m


@dataclass(frozen=True, slots=True)
class Folder:
    shown: Path
    """As the client spells it (absolute)."""
    real: Path
    """Symlinks resolved."""

    @classmethod
    def of(cls, path: str | Path) -> Folder:
        return cls(Path(os.path.abspath(path)), Path(real_path(path)))

    def holds(self, real: Path) -> bool:
        return self.holds_text(str(real))

    def holds_text(self, real: str) -> bool:
        """`holds` for a resolved path as a string: every request asks, so no `Path` is built."""
        root = str(self.real)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


class Workspace:
    def __init__(self) -> None:
        self.folders: list[Folder] = []
        """Declared by the client."""
        self.adopted: list[Folder] = []
        """Projects of documents opened while no folder was declared."""

    @property
    def current(self) -> list[Folder]:
        return self.folders or self.adopted

    def declare(self, uris: list[str]) -> None:
        self.folders = [Folder.of(m.path_of_uri(u)) for u in uris if u.startswith("file:")]

    def change(self, added: list[str], removed: list[str]) -> list[Folder]:
        """Apply `didChangeWorkspaceFolders`; the folders added."""
        gone = {Folder.of(m.path_of_uri(u)).real for u in removed}
        new = [Folder.of(m.path_of_uri(u)) for u in added]
        self.folders = [f for f in self.folders if f.real not in gone] + new
        return new

    def inside(self, path: str, resolved: bool = False) -> str:
        """`path` resolved (unless the caller knows it is already), if it is inside the workspace;
        else invalid params."""
        real = path if resolved else real_path(path)
        if not self.current:
            raise m.ParamsError(
                f"{path} is outside this connection's workspace: it has none (give `workspaceFolders` or "
                "`rootUri` in `initialize`, or open a document of the project first)"
            )
        if not any(f.holds_text(real) for f in self.current):
            raise m.ParamsError(f"{path} is outside this connection's workspace folders (symlinks resolved)")
        return real

    def covers(self, root: Path) -> bool:
        """Does the project at `root` overlap the workspace (its news concern this connection)?"""
        return any(f.holds(root) or root.is_relative_to(f.real) or f.real.is_relative_to(root) for f in self.current)

    def adopt(self, opened: str, root: Path) -> Folder | None:
        """With no folder declared, the project at `root` of the document `opened` (as the client
        spelled it) joins the workspace; the new folder, if it is new."""
        if self.folders or any(f.real == root for f in self.adopted):
            return None
        folder = Folder(_spelled(Path(os.path.abspath(opened)), Path(real_path(opened)), root), root)
        self.adopted.append(folder)
        return folder

    def shown(self, real: str | Path) -> Path:
        """A resolved path in the client's spelling, when it lies in one of its folders."""
        path = Path(real)
        for f in self.current:
            if f.holds(path):
                return f.shown / path.relative_to(f.real)
        return path

    def uri(self, real: str | Path) -> str:
        return m.uri_of_path(self.shown(real))


def _spelled(client: Path, real: Path, real_root: Path) -> Path:
    """The client's spelling of `real_root`, given its spelling `client` of `real` inside it."""
    if not real.is_relative_to(real_root):
        return real_root
    rel = real.relative_to(real_root).parts
    if not rel:
        return client
    if client.parts[-len(rel) :] == rel:
        return Path(*client.parts[: -len(rel)])
    return real_root
