"""Benchmark instrumentation, loaded by the daemon that `daemon.py` starts (this folder is put on
its PYTHONPATH; nothing else loads it).

asyncio's slow-callback report measures wall time: on a loaded machine that includes the time the
loop's thread waited for a CPU or for the GIL while it ran the callback. This logs, beside it,
each callback's own CPU time (`time.thread_time`) above `LEAN_BATCHD_LOOP_CPU_MS`.
"""

import asyncio.events
import logging
import os
import time

_THRESHOLD = float(os.environ.get("LEAN_BATCHD_LOOP_CPU_MS", "10")) / 1000
_run = asyncio.events.Handle._run


def _timed(self: asyncio.events.Handle) -> None:
    start = time.thread_time()
    try:
        _run(self)
    finally:
        used = time.thread_time() - start
        if used > _THRESHOLD:
            logging.getLogger("loop_cpu").warning("callback %.80r used %.3f seconds of CPU", self, used)


asyncio.events.Handle._run = _timed  # type: ignore[method-assign]
