"""Daemon figures on the Mathlib-scale tree (issue 5), with the SIMULATED REPL as worker.

- `moduleInfo` latency (p50, p99) at 200 requests per second from 4 concurrent
  clients on the shared socket (target p99 at most 10 ms), and `plan` latency
- time from a file write to the `planChanged` notification (target p50 at most the
  debounce plus 50 ms), over edits of random modules' bodies
- the daemon's RSS with the project loaded

  python benchmarks/daemon.py [--keep DIR] [--seconds 10] [--edits 30]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from machine import machine

from lean_batchd.server.client import DaemonClient

DEBOUNCE = 0.1


def connect(path: Path, root: Path) -> DaemonClient:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    client = DaemonClient(sock)
    client.session(root)
    return client


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep", type=Path)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--edits", type=int, default=30)
    a = p.parse_args()
    from lean_batchd.testing.mathlib_tree import generate

    tmp = Path(tempfile.mkdtemp(prefix="lbd-bench-"))
    root = (a.keep or tmp / "mathlib4").resolve()
    if not (root / "lakefile.lean").exists():
        generate(root)
    time.sleep(1.5)
    sock = tmp / "d.sock"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "lean_batchd", "serve", "--listen", f"unix:{sock}", "--simulate", "--no-prewarm"],
        stderr=subprocess.DEVNULL,
    )
    try:
        while not sock.exists():
            time.sleep(0.05)
        print(machine())
        watcher = connect(sock, root)
        t = time.monotonic()
        (project,) = watcher.request("$/leanBatchd/projects")
        print(f"project {project['name']}: {project['modules']} modules, {project['batches']} header sessions; "
              f"opened (discovery, plan, watch) in {time.monotonic() - t:.2f} s")  # fmt: skip
        files = sorted((root / "Mathlib").rglob("*.lean"))
        rnd = random.Random(5)
        latencies: list[list[float]] = [[] for _ in range(4)]

        def load(i: int) -> None:
            c = connect(sock, root)
            interval = 4 / 200
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < a.seconds:
                target = start + n * interval
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                path = files[rnd.randrange(len(files))]
                t0 = time.monotonic()
                c.request("$/leanBatchd/moduleInfo", {"textDocument": {"uri": path.as_uri()}})
                latencies[i].append(time.monotonic() - t0)
                n += 1

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        flat = [x for per in latencies for x in per]
        rate = len(flat) / a.seconds
        print(f"moduleInfo: {len(flat)} requests at {rate:.0f}/s from 4 clients: "
              f"p50 {percentile(flat, 0.5) * 1000:.2f} ms, p99 {percentile(flat, 0.99) * 1000:.2f} ms (target p99 10 ms)")  # fmt: skip
        plans = []
        for _ in range(10):
            t0 = time.monotonic()
            watcher.request("$/leanBatchd/plan", {})
            plans.append(time.monotonic() - t0)
        print(f"plan (7,919 batches as JSON): p50 {percentile(plans, 0.5) * 1000:.0f} ms, "
              f"p99 {percentile(plans, 0.99) * 1000:.0f} ms over {len(plans)} requests")  # fmt: skip
        delays = []
        reader_notes: list[tuple[float, dict[str, Any]]] = []

        def listen() -> None:
            while True:
                try:
                    message = watcher.receive()
                except (OSError, ValueError):
                    return
                if message.get("method") == "$/leanBatchd/planChanged":
                    reader_notes.append((time.monotonic(), message))

        threading.Thread(target=listen, daemon=True).start()
        for k in range(a.edits):
            path = files[rnd.randrange(len(files))]
            seen = len(reader_notes)
            wrote = time.monotonic()
            with open(path, "a") as f:
                f.write(f"\n-- edit {k}\n")
            end = wrote + 10
            while len(reader_notes) == seen and time.monotonic() < end:
                time.sleep(0.002)
            if len(reader_notes) > seen:
                delays.append(reader_notes[seen][0] - wrote)
            time.sleep(0.3)
        print(f"file write to planChanged over {len(delays)} body edits of random modules: "
              f"p50 {statistics.median(delays) * 1000:.0f} ms, p99 {percentile(delays, 0.99) * 1000:.0f} ms "
              f"(debounce {DEBOUNCE * 1000:.0f} ms; target p50 {DEBOUNCE * 1000 + 50:.0f} ms)")  # fmt: skip
        rss = psutil.Process(daemon.pid).memory_info().rss / 1024 / 1024
        print(f"daemon RSS with the project loaded: {rss:.0f} MB")
    finally:
        daemon.terminate()
        daemon.wait(20)


if __name__ == "__main__":
    main()
