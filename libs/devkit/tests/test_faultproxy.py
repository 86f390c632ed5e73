"""The fault proxy against real servers: a threaded echo server and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from devkit.faultproxy import FaultProxy
from devkit.servers import port_open
from events.testing import wait_for


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.server.received += len(data)  # type: ignore[attr-defined]
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    received = 0


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", echo.server_address[1]) as running:
        yield running


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), 5)


async def test_forwards_both_ways_and_counts(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    other_reader, other_writer = await asyncio.open_connection(proxy.host, proxy.port)
    assert await roundtrip(reader, writer, b"ping" * 1000) == b"ping" * 1000
    assert await roundtrip(other_reader, other_writer, b"pong") == b"pong"
    writer.close()
    other_writer.close()
    stats = proxy.stats
    assert (stats.accepted, stats.peak, stats.bytes_up, stats.bytes_down) == (2, 2, 4004, 4004)
    assert echo.received == 4004
    await wait_for(lambda: proxy.stats.active == 0, timeout=5, message="links not closed")


async def test_keeps_forwarding_while_the_test_loop_is_blocked(proxy: FaultProxy) -> None:
    # A blocking client on this thread: the test's loop cannot run, the proxy's own loop does.
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
        sock.sendall(b"blocking")
        assert sock.recv(64) == b"blocking"


async def test_cut_resets_open_connections_and_new_ones_still_work(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    assert await roundtrip(reader, writer, b"before") == b"before"
    proxy.cut()
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await roundtrip(reader, writer, b"after")
    assert proxy.stats.active == 0
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    assert await roundtrip(reader, writer, b"again") == b"again"
    writer.close()


async def test_refuse_closes_the_port_until_restored(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    proxy.refuse()
    assert proxy.mode == "refuse"
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await roundtrip(reader, writer, b"existing")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(proxy.host, proxy.port)
    proxy.restore()
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    assert await roundtrip(reader, writer, b"back") == b"back"
    writer.close()


async def test_blackhole_accepts_but_passes_nothing_until_restored(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    open_reader, open_writer = await asyncio.open_connection(proxy.host, proxy.port)
    assert await roundtrip(open_reader, open_writer, b"warm") == b"warm"
    proxy.blackhole()
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)  # still accepted
    writer.write(b"into the void")
    open_writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(open_reader.read(1), 0.1)
    assert echo.received == len(b"warm")
    proxy.restore()  # what was held flows on, as after a healed partition
    assert await asyncio.wait_for(reader.readexactly(13), 5) == b"into the void"
    assert await asyncio.wait_for(open_reader.readexactly(4), 5) == b"held"
    writer.close()
    open_writer.close()


async def test_delay_holds_every_chunk_in_each_direction(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    proxy.delay(0.3)
    started = time.monotonic()
    assert await roundtrip(reader, writer, b"slow") == b"slow"
    assert time.monotonic() - started >= 0.6  # 0.3 s up, 0.3 s down
    with pytest.raises(ValueError, match="negative"):
        proxy.delay(-1)
    writer.close()


async def test_a_backend_that_is_down_is_a_reset_for_the_client() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]  # nothing listens once closed
    with FaultProxy("127.0.0.1", dead_port) as proxy:

        async def talk() -> None:
            # The reset may come before the client's connect call has even returned.
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            writer.write(b"anyone?")
            try:
                await asyncio.wait_for(reader.readexactly(1), 5)
            finally:
                writer.close()

        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await talk()
        await wait_for(lambda: proxy.stats.active == 0, timeout=5, message="link not dropped")


def test_stop_closes_the_port(echo: EchoServer) -> None:
    proxy = FaultProxy("127.0.0.1", echo.server_address[1]).start()
    port = proxy.port
    assert port_open("127.0.0.1", port)
    proxy.stop()
    assert not port_open("127.0.0.1", port)
    with pytest.raises(RuntimeError, match="not running"):
        proxy.cut()


async def test_postgres_through_the_proxy_loses_its_connection_on_cut(
    postgres_server: str,
) -> None:
    real = urlsplit(postgres_server)
    with FaultProxy(real.hostname or "127.0.0.1", real.port or 5432) as proxy:
        user = f"{real.username}@" if real.username else ""
        dsn = urlunsplit(real._replace(netloc=f"{user}{{address}}"))
        conn = await asyncpg.connect(dsn.format(address=proxy.address), timeout=5)
        assert await conn.fetchval("SELECT 41 + 1") == 42
        proxy.cut()
        with pytest.raises((asyncpg.exceptions.ConnectionDoesNotExistError, ConnectionError)):
            await conn.fetchval("SELECT 1", timeout=5)
        await conn.close(timeout=1)
        proxy.blackhole()
        with pytest.raises(TimeoutError):
            await asyncpg.connect(dsn.format(address=proxy.address), timeout=0.5)
        proxy.restore()
        again = await asyncpg.connect(dsn.format(address=proxy.address), timeout=5)
        assert await again.fetchval("SELECT 1") == 1
        await again.close()
