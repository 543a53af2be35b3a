"""One REPL process: spawning it under the guard, one request at a time, stderr drained."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import deque
from pathlib import Path

from .failures import FailureKind, WorkerFailure
from .protocol import ProtocolError, Reply, ReplyFramer, Request, encode
from .shielding import run_to_end

GUARD = str(Path(__file__).with_name("guard.py"))
STREAM_LIMIT = 1 << 24
"""The stream buffer's line limit; longer reply lines are read in pieces (`_read_line`)."""
MAX_REPLY_BYTES = 1 << 30
"""A reply larger than this is a protocol failure (the worker is retired), not a memory blow-up."""
STDERR_LINES = 60
OUT_OF_MEMORY = ("INTERNAL PANIC: out of memory", "std::bad_alloc")
"""What Lean prints when an allocation fails (`lean_internal_panic_out_of_memory` in
leanprover/lean4 src/runtime/object.cpp; C++ code paths throw `std::bad_alloc`)."""


class ReplProcess:
    """Owns the process group of one worker. Not thread-safe: used from the pool's event loop."""

    def __init__(self, proc: asyncio.subprocess.Process, argv: tuple[str, ...]) -> None:
        self.proc = proc
        self.argv = argv
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._drain = asyncio.create_task(self._drain_stderr(), name=f"stderr-{proc.pid}")

    @classmethod
    async def spawn(
        cls, argv: tuple[str, ...], cwd: str, env: dict[str, str] | None = None, address_space_mb: float | None = None
    ) -> ReplProcess | WorkerFailure:
        """Start `argv` in `cwd` inside a new process group led by the guard (see `guard.py`).

        The fork happens on the event loop's own thread, which lives as long as the pool:
        `PR_SET_PDEATHSIG` fires when the spawning thread exits, not the process. Cancelled
        halfway, it lets the fork finish and kills the group, so no process is left unowned."""

        async def unown(proc: asyncio.subprocess.Process) -> None:
            await cls(proc, argv).kill()

        limit = ("--address-space-mb", str(address_space_mb)) if address_space_mb is not None else ()
        try:
            proc = await run_to_end(
                asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-S", GUARD, *limit, "--", *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    limit=STREAM_LIMIT,
                ),
                undo=unown,
            )  # fmt: skip
        except OSError as e:
            return WorkerFailure(FailureKind.SPAWN_FAILED, f"cannot start {' '.join(argv)} in {cwd}: {e.strerror or e}")
        return cls(proc, argv)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def stderr_tail(self) -> str:
        return "".join(self._stderr)

    async def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        while True:
            line = await stream.readline()
            if not line:
                return
            self._stderr.append(line.decode("utf-8", errors="replace"))

    async def request(self, request: Request, timeout: float | None) -> Reply | WorkerFailure:
        """Send one request and read its reply; on any failure the process must be killed."""
        try:
            data = encode(request)
        except ProtocolError as e:
            return WorkerFailure(FailureKind.INVALID_REQUEST, str(e))
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            await stdin.drain()
            async with asyncio.timeout(timeout):
                return await self._read_reply()
        except (BrokenPipeError, ConnectionResetError):
            return await self._crashed()
        except TimeoutError:
            return WorkerFailure(FailureKind.TIMEOUT, f"no reply within {timeout:g} s", self.stderr_tail())
        except ProtocolError as e:
            return WorkerFailure(FailureKind.PROTOCOL, str(e), self.stderr_tail())

    async def _read_reply(self) -> Reply | WorkerFailure:
        framer = ReplyFramer()
        while True:
            line = await self._read_line(MAX_REPLY_BYTES - len(framer.pending))
            if not line:
                return await self._crashed()
            reply = framer.feed_line(line)
            if reply is not None:
                return reply

    async def _read_line(self, room: int) -> bytes:
        """One line of any length up to `room` bytes (the REPL pretty-prints a reply over many
        lines, but one message's text is one line): `readline` would drop a line longer than
        the stream limit and leave the rest of it for the next request."""
        stdout = self.proc.stdout
        assert stdout is not None
        pieces: list[bytes] = []
        size = 0
        while True:
            try:
                piece = await stdout.readuntil(b"\n")
            except asyncio.LimitOverrunError as e:
                piece = await stdout.readexactly(e.consumed)
            except asyncio.IncompleteReadError as e:  # end of output: what there was
                return b"".join(pieces) + e.partial
            pieces.append(piece)
            size += len(piece)
            if size > room:
                raise ProtocolError(f"a reply over {MAX_REPLY_BYTES:,} bytes")
            if piece.endswith(b"\n"):
                return b"".join(pieces)

    async def _crashed(self) -> WorkerFailure:
        code: int | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                code = await self.proc.wait()
        await self._settle_stderr()
        said = [line for line in self._stderr if line.startswith("lean-batchd guard: ")]
        how = said[-1].removeprefix("lean-batchd guard: the worker ").strip() if said else None
        if how is None:
            how = f"exited (code {code})" if code is not None else "closed its output"
        tail = self.stderr_tail()
        if any(sign in tail for sign in OUT_OF_MEMORY):
            return WorkerFailure(FailureKind.MEMORY, f"the worker ran out of memory ({how})", tail)
        return WorkerFailure(FailureKind.CRASH, f"the worker {how}", tail)

    async def _settle_stderr(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.shield(self._drain)

    def signal_group(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    async def kill(self) -> None:
        """Kill the whole group and reap."""
        self.signal_group(signal.SIGKILL)
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        await self.proc.wait()
        if self.proc.stdout is not None:  # read to EOF so the pipe closes now, not when collected
            with contextlib.suppress(TimeoutError, ValueError, asyncio.LimitOverrunError):
                async with asyncio.timeout(1.0):
                    await self.proc.stdout.read()
        await self._settle_stderr()
        self._drain.cancel()

    async def close(self, grace: float = 1.0) -> None:
        """Ask politely (EOF on stdin ends the REPL), then kill what is left."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self.proc.wait()
        await self.kill()
