"""The fault proxy's parts: one proxied connection, and the counters it reports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass

_LINGER_ZERO = struct.pack("ii", 1, 0)  # close() then sends a reset, not a FIN


@dataclass(frozen=True)
class ProxyStats:
    accepted: int
    """Client connections the proxy accepted (refused ones never reach it)."""
    active: int
    peak: int
    """The most connections open at once since the proxy started."""
    bytes_up: int
    """Client to backend."""
    bytes_down: int
    """Backend to client."""


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a crashed peer or a dropped link would look."""
    with contextlib.suppress(OSError):  # already closed
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    sock.close()


class Link:
    """One proxied connection: the client's socket, the backend's, the handler and its pipes."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()

    def abort(self) -> None:
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            if sock is not None and not writer.transport.is_closing():
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            writer.transport.abort()
        if not self.writers:
            reset(self.client)  # not yet handed to a stream
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
