"""Writes are corked per loop round: a burst of answers costs one system call, in order, and
nothing corked is lost when the connection closes."""

from __future__ import annotations

import asyncio
import socket

from lean_batchd.server.transport import LoopWriter, frame


def test_writes_made_in_one_loop_round_go_out_together_in_order() -> None:
    frames = [frame({"jsonrpc": "2.0", "id": i, "result": {"n": i}}) for i in range(50)]

    async def main() -> tuple[list[int], list[int], bytes]:
        server, client = socket.socketpair()
        _, writer = await asyncio.open_connection(sock=server)
        transport = writer.transport
        real = transport.write
        sizes: list[int] = []

        def counted(data: bytes | bytearray | memoryview) -> None:
            sizes.append(len(data))
            real(data)

        transport.write = counted  # type: ignore[method-assign]
        out = LoopWriter(writer, lambda: None)
        for f in frames:
            out.write(f)
        during = list(sizes)
        await asyncio.sleep(0)  # the round ends
        out.write(b"last")
        out.close()  # what is still corked goes out before the close
        client.settimeout(5)
        data = b""
        while chunk := await asyncio.to_thread(client.recv, 1 << 20):
            data += chunk
        client.close()
        return during, sizes, data

    during, sizes, data = asyncio.run(main())
    assert during == []
    assert sizes == [sum(len(f) for f in frames), len(b"last")]
    assert data == b"".join(frames) + b"last"
