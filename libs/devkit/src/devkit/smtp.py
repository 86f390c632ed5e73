"""A real SMTP server on loopback that keeps what it receives and fails as scripted.

Notify's tests, the e2e suite and the local runner read mail back from it; it stands in for a
relay (STARTTLS or implicit TLS with a certificate of its own, a login) and for a catcher.
It serves from the running event loop, so no thread is needed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Self

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from events.testing import wait_for


class _Listener:
    """aiosmtpd's protocol on asyncio's server; the port is kept across stop and start."""

    def __init__(
        self,
        handler: Any,
        host: str,
        port: int,
        *,
        implicit_tls: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._implicit_tls = implicit_tls
        self._options = options
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                hostname="mx.test",
                ident="test relay",
                decode_data=False,
                data_size_limit=10 * 1024 * 1024,
                **self._options,
            ),
            host=self.host,
            port=self.port,
            ssl=self._implicit_tls,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


@dataclass(frozen=True)
class Received:
    envelope_from: str
    recipients: list[str]
    message: EmailMessage
    at: float

    def part(self, subtype: str) -> str:
        """The text of the `text/<subtype>` part."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return str(part.get_content())
        raise AssertionError(f"no text/{subtype} part")


@dataclass
class _Script:
    failures_left: int = 0
    failure: str = "451 4.3.0 Mailbox busy, try again later"
    refused: dict[str, str] = field(default_factory=dict)
    busy_until: dict[str, float] = field(default_factory=dict)
    data_refusals: list[str] = field(default_factory=list)
    data_delay_s: float = 0.0


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost; the cert file is its own CA."""

    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, directory: Path | None = None) -> Certificate:
        folder = directory or Path(tempfile.mkdtemp(prefix="smtp-tls-"))
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        cert_file, key_file = folder / "relay.crt", folder / "relay.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cls(cert_file, key_file)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class _Recorder:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        script = self._server.script
        answer = "250 OK"
        if address.lower() in script.refused:
            answer = script.refused[address.lower()]
        elif script.busy_until.get(address.lower(), 0) > time.monotonic():
            answer = "451 4.2.1 Mailbox temporarily unavailable"
        elif script.failures_left > 0:
            script.failures_left -= 1
            answer = script.failure
        self._server.answers.append((time.monotonic(), address, answer[:3]))
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        script = self._server.script
        if script.data_delay_s:
            await asyncio.sleep(script.data_delay_s)
        if script.data_refusals:
            answer = script.data_refusals.pop(0)
            for address in envelope.rcpt_tos:
                self._server.answers.append((time.monotonic(), address, answer[:3]))
            return answer
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        assert isinstance(message, EmailMessage)
        self._server.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, time.monotonic())
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on loopback that keeps what it receives and fails as scripted.

    `fail_next(n)` answers the next n recipients with 451; `busy_for(address, s)` answers 451
    for one address for a while; `refuse(address)` answers 550 for one address; `refuse_data()`
    refuses the next message after DATA; `stop()` makes connections fail (refused) until
    `start()` again on the same port. `security` and `credentials` make it a relay that speaks
    STARTTLS or implicit TLS (with a certificate of its own) and requires a login.

    Use it with `await server.start()` / `await server.stop()` or `async with SmtpServer():`;
    it serves from the running event loop, so no thread and no fixture is needed.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        security: Literal["none", "starttls", "tls"] = "none",
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self.answers: list[tuple[float, str, str]] = []
        self.script = _Script()
        self.security = security
        self.credentials = credentials
        self.certificate = Certificate.create() if security != "none" else None
        context = self.certificate.server_context() if self.certificate else None
        options: dict[str, Any] = {}
        if security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        if credentials is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                # aiosmtpd only counts STARTTLS as TLS; under implicit TLS every byte is.
                auth_require_tls=security == "starttls",
            )
        self._listener = _Listener(
            _Recorder(self),
            host,
            port,
            implicit_tls=context if security == "tls" else None,
            **options,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.credentials is not None:
            given = (data.login.decode(), data.password.decode())
            if given == self.credentials:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def host(self) -> str:
        return self._listener.host

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def running(self) -> bool:
        return self._listener.running

    async def start(self) -> Self:
        await self._listener.start()
        return self

    async def stop(self) -> None:
        await self._listener.stop()

    def fail_next(
        self, count: int, answer: str = "451 4.3.0 Mailbox busy, try again later"
    ) -> None:
        self.script.failures_left = count
        self.script.failure = answer

    def busy_for(self, address: str, seconds: float) -> None:
        """Answer 451 for `address` during the next `seconds`, then accept again."""
        self.script.busy_until[address.lower()] = time.monotonic() + seconds

    def refuse(self, address: str, answer: str = "550 5.1.1 No such user here") -> None:
        self.script.refused[address.lower()] = answer

    def refuse_data(self, answer: str = "554 5.7.1 Message rejected as spam") -> None:
        """Refuse the next message at the end of DATA (content refused, after RCPT was fine)."""
        self.script.data_refusals.append(answer)

    def slow_down(self, seconds: float) -> None:
        """Answer each message's DATA only after `seconds` (a relay that hangs)."""
        self.script.data_delay_s = seconds

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]

    async def wait_for_mail(
        self,
        address: str,
        where: Callable[[Received], bool] = lambda _: True,
        timeout: float = 15.0,
    ) -> Received:
        await wait_for(
            lambda: any(where(m) for m in self.to(address)),
            timeout=timeout,
            message=lambda: (
                f"no mail to {address}; got mail to "
                + ", ".join(r for m in self.messages for r in m.recipients)
            ),
        )
        return next(m for m in self.to(address) if where(m))
