"""Receives delivery reports mailed to signed return paths and hands them to the handlers.

Three gates before a report changes anything: the client is the relay (an allowed network),
the recipient is a return path we signed (verp.py), and the report is small and simple enough
to parse (a size cap at DATA, a structure check, then the parse in a worker thread with a time
limit, so a crafted report can never hold the event loop).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from typing import Any

from events import get_logger
from notify import dsn, verp
from notify.adapters.smtp_listener import SmtpListener
from notify.config import Settings

log = get_logger("notify.dsn")

Process = Callable[[dsn.DeliveryReport, uuid.UUID], Awaitable[int]]
PARSES_AT_ONCE = 2


class DsnHandler:
    """aiosmtpd handler; each DSN is processed before the SMTP answer, so a failure answers 451
    and the sending MTA tries again."""

    def __init__(self, settings: Settings, process: Process) -> None:
        self._bounce = settings.bounce_address
        self._key = settings.bounce_secret.get_secret_value().encode()
        self._allowed = list(settings.bounce.allowed_clients)
        self._max_bytes = settings.bounce.max_bytes
        self._timeout_s = settings.bounce.parse_timeout_s
        self._process = process
        self._parsing = asyncio.Semaphore(PARSES_AT_ONCE)

    def _allowed_peer(self, session: Any) -> bool:
        try:
            peer = ip_address(str(session.peer[0]).split("%", 1)[0])
        except (TypeError, ValueError, IndexError):
            return False
        if peer.version == 6 and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        return any(peer in network for network in self._allowed)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if not self._allowed_peer(session):
            log.warning("delivery report from a client outside the relay's networks; refused")
            return "550 5.7.1 Reports are accepted from the relay only"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if verp.email_of(address, self._bounce, self._key) is None:
            return "550 5.1.1 This server only accepts reports about mail it sent"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        if len(raw) > self._max_bytes:
            return "552 5.3.4 A delivery report is never this large"
        try:
            report = await self._parse(raw)
        except dsn.TooComplex as exc:
            log.warning("delivery report refused before parsing", why=str(exc))
            return "554 5.6.0 Not a delivery report we can read"
        except TimeoutError:
            log.warning("delivery report took too long to parse; refused")
            return "554 5.6.0 Not a delivery report we can read"
        if report is None:
            log.info("mail to a return path that is not a DSN; dropped")
            return "250 OK (not a delivery report)"
        emails = {verp.email_of(a, self._bounce, self._key) for a in envelope.rcpt_tos}
        try:
            failed = sum([await self._process(report, e) for e in emails if e is not None])
        except Exception as exc:
            log.error("delivery report not processed", error=repr(exc))
            return "451 4.3.0 Try again later"
        log.info("delivery report processed", permanent_failures=failed)
        return "250 OK"

    async def _parse(self, raw: bytes) -> dsn.DeliveryReport | None:
        """In a worker thread, at most PARSES_AT_ONCE at a time; a parse that outlives the time
        limit keeps its slot until it ends, so timed-out parses cannot pile up threads."""
        await self._parsing.acquire()
        try:
            work = asyncio.ensure_future(asyncio.to_thread(dsn.parse_bounded, raw))
        except BaseException:
            self._parsing.release()
            raise
        work.add_done_callback(self._finished)
        done, _ = await asyncio.wait({work}, timeout=self._timeout_s)
        if not done:
            raise TimeoutError
        return work.result()

    def _finished(self, work: asyncio.Future[Any]) -> None:
        self._parsing.release()
        if not work.cancelled() and work.exception() is not None:  # retrieved: not "never"
            log.info("late parse failed", error=repr(work.exception()))


def listener(settings: Settings, process: Process) -> SmtpListener:
    return SmtpListener(
        DsnHandler(settings, process),
        settings.bounce.host,
        settings.bounce.port or 0,
        data_size_limit=settings.bounce.max_bytes,
    )
