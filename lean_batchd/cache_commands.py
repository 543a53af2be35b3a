"""`lean-batchd cache info` and `cache clear`: the project's store, seen and emptied from a terminal."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .lake.root import find_lake_root
from .store.inventory import StoreInfo, clear_store, project_folders, store_info
from .store.location import cache_home, project_folder
from .terminal import EXIT_NO_PROJECT, EXIT_OK, file_size, json_text, missing, plural


def _folder(path: str) -> tuple[Path, Path] | int:
    """The project root `path` belongs to and its store folder."""
    if (problem := missing(path)) is not None:
        print(f"lean-batchd: {problem}", file=sys.stderr)
        return EXIT_NO_PROJECT
    search = find_lake_root(Path(path))
    if search.found is None:
        for d in search.diagnostics:
            print(f"lean-batchd: {d.render()}", file=sys.stderr)
        return EXIT_NO_PROJECT
    return search.found.root, project_folder(search.found.root)


def info_text(root: Path, info: StoreInfo) -> str:
    if not info.exists:
        return f"project at {root}: nothing stored yet (the store will be {info.folder})"
    results = ", ".join(f"{count} {namespace}" for namespace, count in info.results.items()) or "none"
    lines = [
        f"project at {root}",
        f"  store: {info.folder} ({file_size(info.size_bytes)})",
        f"  models: {info.models}; answers: {info.answers}; outcomes: {results}",
    ]
    if info.runs:
        lines.append("  last runs:")
    for run in info.runs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_ns / 1e9))
        rate = "—" if run.hit_rate is None else f"{run.hit_rate:.0%}"
        lines.append(
            f"    {when}  {run.command:<8} pid {run.pid:<7} {run.namespace:<9} "
            f"{plural(run.hits, 'hit')}, {plural(run.misses, 'miss', 'misses')} ({rate}), {run.stored} stored"
        )
    return "\n".join(lines)


def info_command(args: argparse.Namespace) -> int:
    found = _folder(args.path)
    if isinstance(found, int):
        return found
    root, folder = found
    info = store_info(folder)
    if args.json:
        sys.stdout.write(json_text({"root": str(root), **info.to_json()}, indent=1))
        sys.stdout.write("\n")
    else:
        print(info_text(root, info))
    return EXIT_OK


def clear_command(args: argparse.Namespace) -> int:
    if args.all:
        folders = project_folders(cache_home())
        freed = sum(clear_store(f) for f in folders)
        print(f"cleared {plural(len(folders), 'project store')} under {cache_home()} ({file_size(freed)})")
        return EXIT_OK
    found = _folder(args.path)
    if isinstance(found, int):
        return found
    root, folder = found
    freed = clear_store(folder)
    print(f"cleared the store of the project at {root} ({file_size(freed)})")
    return EXIT_OK
