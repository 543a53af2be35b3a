"""`status`, `stop`, `restart`, `evict`: the shared daemon, seen and steered from a terminal.

A user runs one daemon for Lean and, when trying things out, a SIMULATED one on a socket
of its own; without `--socket` or `--simulate` these commands address every daemon of the
user that answers, so that none is invisible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from .server import methods as m
from .server.address import UnsafePath, default_socket
from .server.bridge import start_daemon, wait_for_daemon
from .server.client import AsyncDaemonClient, DaemonRequestError, project_roots
from .terminal import EXIT_FAILED, EXIT_OK, display, fit, json_doc, megabytes, plural, width, wrap

EXIT_NO_DAEMON = 3
STOP_TIMEOUT = 10.0


def sockets(args: argparse.Namespace) -> list[Path]:
    """The sockets a command addresses: the one named, else the per-user ones."""
    if getattr(args, "socket", None):
        return [Path(args.socket)]
    if getattr(args, "simulate", False):
        return [default_socket(True)]
    return [default_socket(False), default_socket(True)]


async def ask(path: Path, method: str, params: dict[str, Any] | None = None, folders: list[Path] | None = None) -> Any:
    """One request to the daemon on `path` (a connection whose workspace is `folders`); None when
    no daemon answers there, or when its socket is not safely this user's (said on stderr)."""
    try:
        client = await AsyncDaemonClient.open(path, folders=folders)
    except (OSError, ConnectionError, DaemonRequestError):
        return None
    except UnsafePath as e:
        print(f"lean-batchd: {e}", file=sys.stderr)
        return None
    try:
        return await client.request(method, params or {})
    except ConnectionError:
        return None
    finally:
        await client.close()


async def running(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """The daemons that answer, with their status."""
    found = await asyncio.gather(*(ask(p, m.STATUS) for p in paths))
    return [(p, status) for p, status in zip(paths, found, strict=True) if status is not None]


def none_running(paths: list[Path]) -> int:
    print(f"lean-batchd: no daemon is running (looked at {', '.join(map(str, paths))})", file=sys.stderr)
    return EXIT_NO_DAEMON


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def status_text(path: Path, status: dict[str, Any], columns: int | None = None) -> str:
    """One daemon as `lean-batchd status` prints it, fitted to `columns`."""
    daemon = status.get("daemon", {})
    kind = "SIMULATED REPL, not Lean" if status.get("simulated") else "Lean REPL"
    lines = [
        wrap(
            f"daemon pid {daemon.get('pid', '?')} on {path} ({kind}), up {duration(daemon.get('uptimeSeconds', 0))}, "
            f"{plural(max(status.get('connections', 1) - 1, 0), 'other connection')}",
            columns,
        )
    ]
    if daemon.get("log"):
        lines.append(f"  log: {daemon['log']}")
    for p in status.get("projects", []):
        lines.append(
            f"  project {p['name']} at {display(p['root'])}: {plural(p['modules'], 'module')}, "
            f"{plural(p['batches'], 'header session')}"
        )
    pool = status.get("pool", {})
    workers = pool.get("workers", [])
    budget = pool.get("budgetMb")
    recycles = pool.get("recycles") or {}
    lines.append(
        f"  workers: {len(workers)}, charged {megabytes(pool.get('chargedMb', 0))}"
        + (f" of {megabytes(budget)}" if budget else "")
        + f" (peak {megabytes(pool.get('peakChargedMb', 0))}), queue {pool.get('queueDepth', 0)}"
        + (", MEMORY PRESSURE" if pool.get("memoryPressure") else "")
    )
    if recycles:
        lines.append("  recycled: " + ", ".join(f"{n} {why}" for why, n in sorted(recycles.items())))
    for w in workers:
        charged = w.get("memory", {}).get("chargeMb", 0)
        imports = ", ".join(w["imports"]) or "(no imports)"
        lines.append(
            f"    session {w['sessionKey'][:8]}  {w['state']:<9} for {duration(w.get('ageSeconds', 0)):<8} "
            f"pid {w['pid'] or '-':<7} {megabytes(charged):>7} (+{megabytes(w.get('growthMb', 0))} since import)  "
            f"{plural(w['requests'], 'request')}, {w.get('recycles', 0)} recycled  {imports}"
        )
    lines += cluster_lines(status.get("executor") or {})
    return "\n".join(fit(line, columns) for line in "\n".join(lines).split("\n"))


def status_command(args: argparse.Namespace) -> int:
    paths = sockets(args)
    found = asyncio.run(running(paths))
    if not found and args.json:  # still a JSON document for scripts: the (empty) list of daemons
        sys.stdout.write("[]\n")
    if not found:
        return none_running(paths)
    if args.json:
        doc: Any = found[0][1] if len(found) == 1 else [{"socket": str(p), **s} for p, s in found]
        sys.stdout.write(json_doc(doc))
    else:
        print("\n".join(status_text(p, s, width(sys.stdout)) for p, s in found))
    return EXIT_OK


async def _stop(path: Path, status: dict[str, Any]) -> str | None:
    """Ask the daemon to stop and wait until its process has gone; or why it did not."""
    pid = status.get("daemon", {}).get("pid")
    await ask(path, m.STOP_DAEMON)
    end = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < end:
        if not isinstance(pid, int) or not _alive(pid):
            return None
        await asyncio.sleep(0.05)
    return f"the daemon (pid {pid}) on {path} did not stop within {STOP_TIMEOUT:g} s"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with open(f"/proc/{pid}/stat", "rb") as f:  # a zombie has stopped serving
        return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"


def stop_command(args: argparse.Namespace) -> int:
    paths = sockets(args)
    found = asyncio.run(running(paths))
    if not found:
        print(f"lean-batchd: no daemon was running (looked at {', '.join(map(str, paths))})", file=sys.stderr)
        return EXIT_OK
    code = EXIT_OK
    for path, status in found:
        problem = asyncio.run(_stop(path, status))
        if problem is None:
            print(f"stopped the daemon (pid {status.get('daemon', {}).get('pid')}) on {path}")
        else:
            print(f"lean-batchd: {problem}", file=sys.stderr)
            code = EXIT_FAILED
    return code


def restart_command(args: argparse.Namespace) -> int:
    """Stop each running daemon and start it again with its own command line."""
    paths = sockets(args)
    found = asyncio.run(running(paths))
    if not found:
        return none_running(paths)
    code = EXIT_OK
    for path, status in found:
        daemon = status.get("daemon", {})
        argv, python = daemon.get("argv"), daemon.get("python")
        if not isinstance(argv, list) or not isinstance(python, str):
            print(f"lean-batchd: the daemon on {path} does not say how it started; stop it instead", file=sys.stderr)
            code = EXIT_FAILED
            continue
        problem = asyncio.run(_stop(path, status))
        started = (
            wait_for_daemon(path, start_daemon(path, [python, "-P", "-m", "lean_batchd", *argv]))
            if not problem
            else None
        )
        if not isinstance(started, socket.socket):
            print(f"lean-batchd: {problem or started}", file=sys.stderr)
            code = EXIT_FAILED
            continue
        started.close()
        again = asyncio.run(ask(path, m.STATUS)) or {}
        print(f"restarted the daemon on {path} (pid {daemon.get('pid')} -> {again.get('daemon', {}).get('pid')})")
    return code


def _not_a_project_file(file: Path) -> str | None:
    from .lake.root import find_lake_root

    if not file.is_file():
        return "no such file"
    if find_lake_root(file).found is None:
        return "not inside a Lake project (no lakefile at or above it)"
    return None


def evict_command(args: argparse.Namespace) -> int:
    """Stop the warm workers of the files' sessions (or all of them) in every daemon that runs."""
    paths = sockets(args)
    found = asyncio.run(running(paths))
    if not found:
        return none_running(paths)
    for f in args.files:
        problem = _not_a_project_file(Path(f))
        if problem is not None:
            print(f"lean-batchd: {f}: {problem}", file=sys.stderr)
            return EXIT_FAILED
    documents = [{"textDocument": {"uri": m.uri_of_path(Path(f).resolve())}} for f in args.files]
    requests: list[dict[str, Any]] = [{"all": True}] if args.all else documents
    if not requests:
        print("lean-batchd: name files whose sessions to evict, or --all", file=sys.stderr)
        return EXIT_FAILED
    evicted = 0
    for path, _ in found:
        for params in requests:
            try:
                answer = asyncio.run(ask(path, m.EVICT, params, project_roots(args.files)))
            except DaemonRequestError as e:
                print(f"lean-batchd: {e}", file=sys.stderr)
                return EXIT_FAILED
            evicted += int((answer or {}).get("evicted", 0))
    print(f"evicted {plural(evicted, 'worker')}")
    return EXIT_OK


def cluster_lines(executor: dict[str, Any]) -> list[str]:
    """Nothing for the local pool (the workers' lines say it all)."""
    if executor.get("kind") != "ray":
        return []
    where = f"Ray at {executor.get('address')}, namespace {executor.get('namespace')}"
    if not executor.get("connected"):
        return [f"  executor: {where} (not joined yet)"]
    nodes = executor.get("nodes", [])
    lines = [
        f"  executor: {where}: {plural(len(nodes), 'node')}, {plural(len(executor.get('sessions', [])), 'session')}, "
        f"{executor.get('retriedFiles', 0)} files retried, {executor.get('lostActors', 0)} actors lost"
    ]
    for n in nodes:
        state = "" if n.get("alive") else " (dead)"
        keys = " ".join(k[:8] for k in n.get("sessions", [])) or "-"
        lines.append(
            f"    node {n['address']}{state}: {n['reservedMb']:.0f} of {n['memoryMb']:.0f} MB lean_memory_mb reserved; "
            f"sessions {keys}"
        )
    return lines
