"""Stand-ins and builders for notify's tests and the e2e suite: settings for a test SMTP server
(devkit's, re-exported here), a SendGrid v3 API, the queues' handlers as the worker binds them."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from devkit.smtp import Received, SmtpServer

if TYPE_CHECKING:
    from devkit.platform import LocalRun
from events.routing import DeadLetterHook, Delivery, Route, handling
from events.settings import BusSettings
from events.testing import LoopbackHttpServer
from notify.config import Settings, SmtpSettings

ADMIN_TOKEN = "test-operators-token"  # noqa: S105 - a test fixture, not a secret


def operator(token: str = ADMIN_TOKEN) -> dict[str, str]:
    """The header an operator sends to the ops port's admin routes."""
    return {"Authorization": f"Bearer {token}"}


def smtp_settings(server: SmtpServer) -> SmtpSettings:
    """How notify reaches a test SMTP server: its security, its CA and its login."""
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security=server.security,
        cert_bundle=str(server.certificate.cert_file) if server.certificate else None,
        username=server.credentials[0] if server.credentials else None,
        password=SecretStr(server.credentials[1]) if server.credentials else None,
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


def local_env(run: LocalRun) -> dict[str, str]:
    """Notify's own settings for a local run (devkit.platform); secrets are fresh each run."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "TRANSPORT": "smtp",
        "FROM_ADDRESS": "Portfolio <hello@portfolio.test>",
        "BOUNCE_ADDRESS": "bounces@portfolio.test",
        "VERIFY_URL_BASE": "http://app.portfolio.test/verify",
        "WEBHOOK_PUBLIC_KEY": base64.b64encode(der).decode(),
        "UNSUBSCRIBE_SECRET": secrets.token_urlsafe(24),
        "BOUNCE_SECRET": secrets.token_urlsafe(24),
        "ADMIN_TOKEN": ADMIN_TOKEN if not run.dev else "dev-only-admin-token",
        "RESET_URL_BASE": "http://app.portfolio.test/reset-password",
        "BOUNCE__HOST": "127.0.0.1",
        "BOUNCE__PORT": str(run.free_port(2525)),
    }


def settings_for(database_url: str, bus: BusSettings | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": SecretStr(database_url),
        "unsubscribe_secret": SecretStr("test-unsubscribe-secret"),
        "bounce_secret": SecretStr("test-bounce-secret"),
        "admin_token": SecretStr(ADMIN_TOKEN),
        "reset_url_base": "http://app.portfolio.test/reset-password",
        "from_address": "Portfolio <hello@portfolio.test>",
        "bounce_address": "bounces@portfolio.test",
        "verify_url_base": "http://app.portfolio.test/verify",
        "log_json": False,
    }
    if bus is not None:
        values["bus"] = bus
    values.update(overrides)
    return Settings(**values)


def _route(container: Any, handler: str) -> Route:
    from notify.bootstrap import SERVICE

    queue = f"notify.{handler}"
    return next(r for r in SERVICE.router(container).routes if r.queue == queue)


def sender(container: Any, handler: str) -> Callable[[Delivery[Any]], Awaitable[None]]:
    """A queue's handler as the worker binds it, run in the delivery's correlation context."""
    (send,) = _route(container, handler).handlers.values()

    async def run(delivery: Delivery[Any]) -> None:
        with handling(delivery):
            await send(delivery)

    return run


def give_up(container: Any, handler: str) -> DeadLetterHook:
    """A queue's dead-letter hook as the worker binds it."""
    hook = _route(container, handler).on_dead_letter
    assert hook is not None, f"notify.{handler} has no dead-letter hook"
    return hook


__all__ = [
    "ADMIN_TOKEN",
    "FakeSendgrid",
    "Received",
    "SmtpServer",
    "give_up",
    "operator",
    "sender",
    "settings_for",
    "smtp_settings",
]
