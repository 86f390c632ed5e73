"""A TCP proxy between a client and a real backend that cuts, refuses, blackholes or delays
connections on demand, so outage tests take the backend away for real.

In the spirit of aiomisc's `TCPProxy` (which aio-pika's robustness tests use), but it runs on an
event loop of its own in a thread: it keeps forwarding while the test's loop is blocked, and its
control methods are safe to call from any thread and return once the fault is in place.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from devkit.proxylink import Link, ProxyStats

__all__ = ["FaultProxy", "Mode", "ProxyStats"]

Mode = Literal["forward", "refuse", "blackhole"]

_CHUNK = 64 * 1024
_CONTROL_TIMEOUT_S = 10.0


class FaultProxy:
    """Listens on `host:port` (a free port by default) and forwards to `target_host:target_port`."""

    def __init__(
        self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = port
        self._mode: Mode = "forward"
        self._delay_s = 0.0
        self._links: set[Link] = set()
        self._accepted = self._peak = self._bytes_up = self._bytes_down = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._flowing: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the proxy is already running")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"faultproxy->{self.target_port}", daemon=True
        )
        self._thread.start()
        self._call(self._open)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CONTROL_TIMEOUT_S)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- faults (thread-safe; each returns once the fault is in effect) ------------------------

    def url_for(self, url: str) -> str:
        """`url` (a database or broker URL) with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo, _, _ = parts.netloc.rpartition("@")
        prefix = f"{userinfo}@" if userinfo else ""
        return urlunsplit(parts._replace(netloc=f"{prefix}{self.host}:{self.port}"))

    def cut(self) -> None:
        """Reset every open connection now; new ones are still forwarded."""
        self._call(self._cut)

    def refuse(self) -> None:
        """Stop listening (connects are refused by the kernel) and reset every open connection."""
        self._call(self._refuse)

    def blackhole(self) -> None:
        """Accept connections but forward nothing either way: clients hang until they time out."""
        self._call(self._blackhole)

    def delay(self, seconds: float) -> None:
        """Hold every chunk `seconds` before passing it on, in both directions."""
        if seconds < 0:
            raise ValueError("a delay cannot be negative")
        self._delay_s = seconds  # read by the pipes before each chunk

    def restore(self) -> None:
        """Forward normally again: listening, no delay; held data flows on."""
        self._call(self._restore)

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def stats(self) -> ProxyStats:
        return ProxyStats(
            self._accepted, len(self._links), self._peak, self._bytes_up, self._bytes_down
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- the proxy's own loop ----------------------------------------------------------------

    def _call(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._loop is None:
            raise RuntimeError("the proxy is not running; use start() or a with block")
        if threading.current_thread() is self._thread:
            raise RuntimeError("control the proxy from another thread than its own loop")
        future = asyncio.run_coroutine_threadsafe(action(), self._loop)
        future.result(_CONTROL_TIMEOUT_S)

    async def _open(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        # A socket accepted from a reader callback, not asyncio.Server or sock_accept: closing
        # either while a connection is half-accepted leaks it (the client hangs, no reset).
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]  # the port 0 was given
        self._listener = listener
        asyncio.get_running_loop().add_reader(listener, self._accept_ready, listener)

    async def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener)
            listener.close()  # the kernel resets connections not yet accepted

    def _accept_ready(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. out of file descriptors: the client's connect times out
            client.setblocking(False)
            self._accepted += 1
            link = Link(client)
            self._links.add(link)  # before the handler runs, so a cut now reaches it
            self._peak = max(self._peak, len(self._links))
            link.tasks.add(asyncio.create_task(self._serve(link)))

    async def _close(self) -> None:
        await self._cut()
        await self._unlisten()

    async def _cut(self) -> None:
        links, self._links = self._links, set()
        for link in links:
            link.abort()
        # Let the cancelled handlers finish, so a stop leaves no task pending.
        await asyncio.gather(*(t for link in links for t in link.tasks), return_exceptions=True)

    async def _refuse(self) -> None:
        self._mode = "refuse"
        await self._unlisten()  # before the cut, so no client reconnects in between
        await self._cut()

    async def _blackhole(self) -> None:
        self._mode = "blackhole"
        assert self._flowing is not None
        self._flowing.clear()

    async def _restore(self) -> None:
        self._mode = "forward"
        self._delay_s = 0.0
        if self._listener is None:
            await self._listen()
        assert self._flowing is not None
        self._flowing.set()

    async def _serve(self, link: Link) -> None:
        assert self._flowing is not None
        try:
            if self._mode == "refuse":  # accepted just before the listener closed
                raise ConnectionRefusedError
            reader, writer = await asyncio.open_connection(sock=link.client)
            link.writers.append(writer)
            await self._flowing.wait()  # a blackhole does not even reach the backend
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
            link.writers.append(up_writer)
            pipes = (
                asyncio.create_task(self._pipe(reader, up_writer, up=True)),
                asyncio.create_task(self._pipe(up_reader, writer, up=False)),
            )
            link.tasks.update(pipes)
            await asyncio.gather(*pipes)
        except (asyncio.CancelledError, OSError):
            # Cut by a fault, reset by one side or refused by the backend: the other side
            # sees a reset too, as it would if the link between them broke.
            link.abort()
        else:
            for side in link.writers:
                side.close()
        finally:
            self._links.discard(link)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        assert self._flowing is not None
        while data := await reader.read(_CHUNK):
            await self._flowing.wait()
            if self._delay_s > 0:
                await asyncio.sleep(self._delay_s)
            if up:  # counted before the peer can see them, so a reader never sees stale counts
                self._bytes_up += len(data)
            else:
                self._bytes_down += len(data)
            writer.write(data)
            await writer.drain()
        # The peer finished sending: pass the half-close on, keep the other direction open.
        if writer.can_write_eof() and not writer.transport.is_closing():
            writer.write_eof()
