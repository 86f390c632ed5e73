"""Events published by the auth service."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import AwareDatetime, Field

from events.envelope import EventData


class UserRegisteredV1(EventData):
    """A person registered; their account is pending until the email is verified."""

    event_type: ClassVar[str] = "user.registered.v1"
    producer: ClassVar[str] = "auth"

    user_id: uuid.UUID
    email: str = Field(description="Normalised email address (lower-cased domain).")
    display_name: str
    registered_at: AwareDatetime


class UserVerificationRequestedV1(EventData):
    """A verification email is due: at registration, or when the user asks for a new link.

    The token is the only secret that travels on the bus: the notify service needs it to build the
    link. It is single use, expires, and only its hash is stored by auth; logs never print `data`.
    """

    event_type: ClassVar[str] = "user.verification_requested.v1"
    producer: ClassVar[str] = "auth"

    user_id: uuid.UUID
    email: str
    display_name: str
    token: str = Field(min_length=16, description="The raw verification token (single use).")
    expires_at: AwareDatetime


class UserVerifiedV1(EventData):
    """The user followed the verification link: the account is active."""

    event_type: ClassVar[str] = "user.verified.v1"
    producer: ClassVar[str] = "auth"

    user_id: uuid.UUID
    email: str
    display_name: str
    verified_at: AwareDatetime


class UserLoggedInV1(EventData):
    """A successful login; `first_login` is true exactly once per account."""

    event_type: ClassVar[str] = "user.logged_in.v1"
    producer: ClassVar[str] = "auth"

    user_id: uuid.UUID
    email: str
    display_name: str
    first_login: bool
    logged_in_at: AwareDatetime


class UserSignupAttemptedV1(EventData):
    """Someone tried to register an address that already has an account.

    Registration answers the same for new and known addresses (no account oracle); the owner
    hears about the attempt instead, by this email. Nothing in the account changed.
    """

    event_type: ClassVar[str] = "user.signup_attempted.v1"
    producer: ClassVar[str] = "auth"

    user_id: uuid.UUID
    email: str = Field(description="The account's address (as the owner registered it).")
    display_name: str = Field(description="The account's name, not the one the attempt gave.")
    attempted_at: AwareDatetime


class UserPasswordResetRequestedV1(EventData):
    """A password reset link is due: the owner of the address asked for one.

    Like the verification token, the reset token travels only to notify, which mails it; auth
    keeps its hash alone, it works once and expires within the hour.
    """

    event_type: ClassVar[str] = "user.password_reset_requested.v1"
    producer: ClassVar[str] = "auth"

    user_id: uuid.UUID
    email: str
    display_name: str
    token: str = Field(min_length=16, description="The raw reset token (single use).")
    expires_at: AwareDatetime
