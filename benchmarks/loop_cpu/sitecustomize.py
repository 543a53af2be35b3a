"""Benchmark instrumentation, loaded by the daemon that `daemon.py` starts (this folder is put on
its PYTHONPATH; nothing else loads it).

Every event-loop callback longer than `LEAN_BATCHD_LOOP_CPU_MS` is logged with its wall time and
its own CPU time (`time.thread_time`): on a loaded machine the wall time includes the time the
loop's thread waited for a CPU or for the GIL. This stands in for asyncio's debug mode, whose
slow-callback report costs every callback a stack capture (a `stat` per source file), and whose
report formats the callback's arguments: a future holding a project snapshot took 0.6 s to
`repr`, a stall the instrument itself made. The cyclic collector's passes longer than the
threshold are logged too: they stop every thread.
"""

import asyncio.events
import gc
import logging
import os
import time

_THRESHOLD = float(os.environ.get("LEAN_BATCHD_LOOP_CPU_MS", "10")) / 1000
_run = asyncio.events.Handle._run


def _named(handle: asyncio.events.Handle) -> str:
    """What ran, without `repr` of its arguments."""
    callback = handle._callback  # type: ignore[attr-defined]
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        return f"task {owner.get_name()!r}"
    return str(getattr(callback, "__qualname__", type(callback).__name__))


def _timed(self: asyncio.events.Handle) -> None:
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        _run(self)
    finally:
        took, used = time.perf_counter() - wall, time.thread_time() - cpu
        if took > _THRESHOLD:
            logging.getLogger("loop_cpu").warning(
                "callback %s took %.3f seconds, %.3f of CPU", _named(self), took, used
            )


asyncio.events.Handle._run = _timed  # type: ignore[method-assign]


_collecting: list[float] = []


def _collected(phase: str, info: dict[str, int]) -> None:
    """The cyclic collector stops every thread while it runs: log its long passes too."""
    if phase == "start":
        _collecting[:] = [time.perf_counter()]
    elif _collecting:
        took = time.perf_counter() - _collecting[0]
        if took > _THRESHOLD:
            logging.getLogger("loop_cpu").warning("gc generation %d took %.3f seconds", info["generation"], took)


gc.callbacks.append(_collected)
