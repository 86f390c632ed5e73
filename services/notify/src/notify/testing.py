"""Stand-ins that behave like the real servers, for notify's tests and the e2e suite: an SMTP
server to read mail back from and to script failures with, and a SendGrid v3 API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

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
    for one address for a while; `refuse(address)` answers 550 for one address; `stop()` makes
    connections fail (refused) until `start()` again on the same port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.messages: list[Received] = []
        self.answers: list[tuple[float, str, str]] = []
        self.script = _Script()
        self._listener = SmtpListener(_Recorder(self), host, port, hostname="mx.test")

    @property
    def host(self) -> str:
        return self._listener.host

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def running(self) -> bool:
        return self._listener.running

    async def start(self) -> SmtpServer:
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
        return SmtpSettings(host=self.host, port=self.port, security="none", timeout_s=5)


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
