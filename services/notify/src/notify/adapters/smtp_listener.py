"""An SMTP server in the service's own event loop (aiosmtpd's protocol on asyncio.start_server).

The worker receives bounces on it; tests use the same class to stand in for a mail server.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP


class SmtpListener:
    """`options` go to aiosmtpd's SMTP (tls_context for STARTTLS, authenticator, ...);
    `implicit_tls` wraps every connection in TLS from the first byte (port 465 style)."""

    def __init__(
        self,
        handler: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        hostname: str = "notify.local",
        *,
        implicit_tls: ssl.SSLContext | None = None,
        data_size_limit: int = 10 * 1024 * 1024,
        **options: Any,
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._hostname = hostname
        self._implicit_tls = implicit_tls
        self._data_size_limit = data_size_limit
        self._options = options
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                hostname=self._hostname,
                ident="notify",
                decode_data=False,
                data_size_limit=self._data_size_limit,
                **self._options,
            ),
            host=self.host,
            port=self.port,
            ssl=self._implicit_tls,
        )
        # Keep the port across restarts (tests stop a server and bring it back).
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None
