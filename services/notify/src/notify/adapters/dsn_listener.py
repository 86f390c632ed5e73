"""Receives delivery reports mailed to the bounce address and hands them to the handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from events import get_logger
from notify import dsn
from notify.adapters.smtp_listener import SmtpListener

log = get_logger("notify.dsn")


class DsnHandler:
    """aiosmtpd handler: only the bounce address is a valid recipient; each DSN is processed
    before the SMTP answer, so a failure answers 451 and the sending MTA tries again."""

    def __init__(
        self, bounce_address: str, process: Callable[[dsn.DeliveryReport], Awaitable[int]]
    ) -> None:
        self._bounce = bounce_address.lower()
        self._process = process

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() != self._bounce:
            return "550 5.1.1 This server only accepts bounces"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        report = dsn.parse(raw if isinstance(raw, bytes) else str(raw).encode())
        if report is None:
            log.info("mail to the bounce address that is not a DSN; dropped")
            return "250 OK (not a delivery report)"
        try:
            failed = await self._process(report)
        except Exception as exc:
            log.error("delivery report not processed", error=repr(exc))
            return "451 4.3.0 Try again later"
        log.info("delivery report processed", permanent_failures=failed)
        return "250 OK"


def listener(
    host: str,
    port: int,
    bounce_address: str,
    process: Callable[[dsn.DeliveryReport], Awaitable[int]],
) -> SmtpListener:
    return SmtpListener(DsnHandler(bounce_address, process), host, port)
