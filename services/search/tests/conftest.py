"""Search's fixtures: a PostgreSQL index in a database of the test's own, and a TCP proxy."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from search.adapters.postgres import PostgresIndexSettings, PostgresSearchIndex, create_engine
from search.adapters.postgres_schema import install


@pytest.fixture
async def pg_engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database, PostgresIndexSettings(operation_timeout_s=10))
    async with engine.begin() as conn:
        await install(conn)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def pg_index(pg_engine: AsyncEngine) -> PostgresSearchIndex:
    index = PostgresSearchIndex(pg_engine, PostgresIndexSettings(operation_timeout_s=10))
    await index.ensure()
    return index


# TODO(devkit.faultproxy): replace with the shared fault proxy once it lands on main.
class TcpProxy:
    """A minimal thread-based TCP proxy on loopback that can cut and restore the link.

    `cut()` closes every open connection and refuses new ones (accepts, then closes at once);
    `stall()` closes them too but holds new ones open without an answer (a black hole, the
    failure only a deadline catches); `restore()` lets connections through again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._mode = "pass"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._server.close()
        self._close_all()

    def url_for(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{self.port}"))

    def cut(self) -> None:
        self._set("refuse")

    def stall(self) -> None:
        self._set("stall")

    def restore(self) -> None:
        with self._lock:
            stalled = self._mode == "stall"
            self._mode = "pass"
        if stalled:
            self._close_all()  # only held, unanswered connections are open in that mode

    def _set(self, mode: str) -> None:
        with self._lock:
            self._mode = mode
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                mode = self._mode
                if mode == "stall":
                    self._open.add(client)  # held, never answered; closed by restore or exit
            if mode == "refuse":
                client.close()
            if mode != "pass":
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def postgres_proxy(fresh_database: str) -> Iterator[TcpProxy]:
    parts = urlsplit(fresh_database)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        yield proxy
