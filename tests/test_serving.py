"""The listening socket: loopback only, and accepted connections get TCP_NODELAY."""

from __future__ import annotations

import asyncio
import socket

from desktop.api.serving import bind_loopback


async def test_accepted_connections_have_nodelay() -> None:
    sock = bind_loopback(0)
    assert sock.getsockname()[0] == "127.0.0.1"
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw = writer.get_extra_info("socket")
        accepted.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname())
        assert await asyncio.wait_for(accepted, 5) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
