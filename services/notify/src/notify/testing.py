"""Stand-ins that behave like the real servers, for notify's tests and the e2e suite: an SMTP
server to read mail back from and to script failures with, and a SendGrid v3 API."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Self

from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from events.infra import wait_for
from events.settings import BusSettings
from events.testing import LoopbackHttpServer
from notify.adapters.smtp_listener import SmtpListener
from notify.config import Settings, SmtpSettings
from servicekit import entrypoint

MIGRATIONS = entrypoint.migrations_dir("notify", __file__)


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
        folder = directory or Path(tempfile.mkdtemp(prefix="notify-tls-"))
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "notify test relay")])
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
        self._listener = SmtpListener(
            _Recorder(self),
            host,
            port,
            hostname="mx.test",
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

    def settings(self) -> SmtpSettings:
        """How notify reaches this server: its security, its CA and its login."""
        return SmtpSettings(
            host=self.host,
            port=self.port,
            security=self.security,
            cert_bundle=str(self.certificate.cert_file) if self.certificate else None,
            username=self.credentials[0] if self.credentials else None,
            password=SecretStr(self.credentials[1]) if self.credentials else None,
            timeout_s=5,
        )


class FakeSendgrid(LoopbackHttpServer):
    """An HTTP server that answers like SendGrid's v3 mail-send API, as its docs describe.

    It checks the bearer key and the body's shape (400 with the API's error format otherwise),
    accepts with 202 and an X-Message-Id, and answers what `respond_next` scripts (429 with
    Retry-After, 401, 5xx, ...).
    """

    def __init__(self, api_key: str = "SG.test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._scripted: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()

    def respond_next(
        self, status: int, headers: dict[str, str] | None = None, errors: list[str] | None = None
    ) -> None:
        payload = {"errors": [{"message": e, "field": None, "help": None} for e in errors or []]}
        with self._lock:
            self._scripted.append((status, headers or {}, payload if errors else {}))

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        status, extra, payload = self._answer(path, headers, body)
        return status, extra, json.dumps(payload).encode() if payload else b""

    def _answer(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if path != "/v3/mail/send":
            return 404, {}, {"errors": [{"message": "not found"}]}
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return (
                401,
                {},
                {
                    "errors": [
                        {
                            "message": "The provided authorization grant is "
                            "invalid, expired, or revoked",
                            "field": None,
                        }
                    ]
                },
            )
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {}, {"errors": [{"message": "Bad Request", "field": None}]}
        problems = _shape_problems(request)
        if problems:
            return 400, {}, {"errors": [{"message": p, "field": None} for p in problems]}
        with self._lock:
            self.requests.append(request)
            if self._scripted:
                return self._scripted.pop(0)
        return 202, {"X-Message-Id": f"sg{len(self.requests)}x"}, {}


def _shape_problems(request: dict[str, Any]) -> list[str]:
    problems = []
    personalizations = request.get("personalizations")
    if not personalizations or not personalizations[0].get("to"):
        problems.append("The personalizations field is required and must have at least one to.")
    if not (request.get("from") or {}).get("email"):
        problems.append("The from object must be provided for every email send.")
    if not request.get("subject"):
        problems.append("The subject is required.")
    types = [c.get("type") for c in request.get("content", [])]
    if not types:
        problems.append("The content value must be a string at least one character in length.")
    elif "text/plain" in types and types.index("text/plain") != 0:
        problems.append("If present, text/plain must be first, followed by any other content.")
    return problems


def settings_for(database_url: str, bus: BusSettings | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": SecretStr(database_url),
        "unsubscribe_secret": SecretStr("test-unsubscribe-secret"),
        "from_address": "Portfolio <hello@portfolio.test>",
        "bounce_address": "bounces@portfolio.test",
        "verify_url_base": "http://app.portfolio.test/verify",
        "log_json": False,
    }
    if bus is not None:
        values["bus"] = bus
    values.update(overrides)
    return Settings(**values)
