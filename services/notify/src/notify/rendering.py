"""Emails from Jinja2 templates kept in the service: an .html and a .txt for each."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notify.config import Settings
from notify.mailer import InvalidRecipient, OutgoingEmail

SUBJECTS = {
    "welcome": "Welcome to Portfolio, {display_name}",
    "verification": "Confirm your email address",
    "onboarding": "Your first portfolio, in three steps",
    "signup_attempt": "Someone tried to sign up with your address",
    "password_reset": "Reset your Portfolio password",
}
# Transactional mail (the verification link) must arrive even for someone who unsubscribed from
# the rest; only the others carry List-Unsubscribe.
UNSUBSCRIBABLE = frozenset({"welcome", "onboarding"})


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("notify", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str) -> str:
    """A header value on one line: a display name with a line break must not add headers."""
    return " ".join(value.split())


def render(template: str, context: dict[str, Any]) -> Rendered:
    env = environment()
    subject = one_line(SUBJECTS[template].format(**context))
    full = {**context, "subject": subject}
    return Rendered(
        subject=subject,
        text=env.get_template(f"{template}.txt").render(full),
        html=env.get_template(f"{template}.html").render(full),
    )


def message_id(cause_event_id: uuid.UUID, template: str, domain: str) -> str:
    """The same event and template always make the same Message-ID: a resend after a crash is
    recognisable as the same message by the receiving side."""
    return f"<{template}.{cause_event_id}@{domain}>"


def unsubscribe_url(settings: Settings, recipient: str) -> str:
    # A keyed token: the link unsubscribes this address and cannot be forged for another.
    key = settings.unsubscribe_secret.get_secret_value().encode()
    token = hmac.new(key, recipient.lower().encode(), hashlib.sha256).hexdigest()[:32]
    return f"{settings.unsubscribe_url_base}?{urlencode({'email': recipient, 'token': token})}"


def compose(
    template: str,
    *,
    to: str,
    cause_event_id: uuid.UUID,
    settings: Settings,
    context: dict[str, Any],
    return_path: str | None = None,
) -> OutgoingEmail:
    """The email as every transport gets it; raises InvalidRecipient for an unmailable `to`.

    `return_path` is the envelope sender (the email's signed VERP address, see verp.py)."""
    try:
        # The same check as auth's, so an address auth accepted is never refused here.
        validate_email(to, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidRecipient(f"invalid recipient address: {exc}") from exc
    domain = settings.bounce_address.rsplit("@", 1)[-1]
    headers: dict[str, str] = {}
    unsubscribe: str | None = None
    if template in UNSUBSCRIBABLE:
        unsubscribe = unsubscribe_url(settings, to)
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    rendered = render(
        template, {**context, "app_url": settings.app_url, "unsubscribe_url": unsubscribe}
    )
    return OutgoingEmail(
        to=to,
        from_address=settings.from_address,
        envelope_from=return_path or settings.bounce_address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id(cause_event_id, template, domain),
        headers=headers,
    )


def verify_url(settings: Settings, token: str) -> str:
    return f"{settings.verify_url_base}?token={quote(token, safe='')}"


def reset_url(settings: Settings, token: str) -> str:
    return f"{settings.reset_url_base}?token={quote(token, safe='')}"
