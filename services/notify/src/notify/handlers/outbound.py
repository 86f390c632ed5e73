"""What each event asks to be sent: the template, the recipient, the context."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events import get_logger
from events.contracts import (
    UserLoggedInV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserSignupAttemptedV1,
    UserVerificationRequestedV1,
)
from notify.config import Settings
from notify.rendering import reset_url, verify_url

log = get_logger("notify.outbound")


@dataclass(frozen=True)
class Outbound:
    """What an event asks to be sent."""

    template: str
    recipient: str
    user_id: uuid.UUID | None
    context: dict[str, Any] = field(default_factory=dict)


def welcome(data: UserRegisteredV1, settings: Settings) -> Outbound | None:
    return Outbound("welcome", data.email, data.user_id, {"display_name": data.display_name})


def verification(data: UserVerificationRequestedV1, settings: Settings) -> Outbound | None:
    return Outbound(
        "verification",
        data.email,
        data.user_id,
        {
            "display_name": data.display_name,
            "verify_url": verify_url(settings, data.token),
            "expires_at": data.expires_at.strftime("%d %B %Y, %H:%M UTC"),
        },
    )


def onboarding(data: UserLoggedInV1, settings: Settings) -> Outbound | None:
    if not data.first_login:
        return None  # only the first login gets the getting-started email
    return Outbound("onboarding", data.email, data.user_id, {"display_name": data.display_name})


def signup_attempt(data: UserSignupAttemptedV1, settings: Settings) -> Outbound | None:
    return Outbound("signup_attempt", data.email, data.user_id, {"display_name": data.display_name})


def password_reset(data: UserPasswordResetRequestedV1, settings: Settings) -> Outbound | None:
    return Outbound(
        "password_reset",
        data.email,
        data.user_id,
        {
            "display_name": data.display_name,
            "reset_url": reset_url(settings, data.token),
            "expires_at": data.expires_at.strftime("%d %B %Y, %H:%M UTC"),
        },
    )


Composer = Callable[[Any, Settings], Outbound | None]
