"""Auth's tables and API shapes: XBase -> XCreate -> X(table=True) -> XPublic."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, StringConstraints
from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Identity, Index
from sqlmodel import Field, SQLModel

PENDING, ACTIVE, DISABLED = "pending", "active", "disabled"
EMAIL_UNKNOWN, EMAIL_SENT, EMAIL_FAILED, EMAIL_BOUNCED = "unknown", "sent", "failed", "bounced"
# Login attempt outcomes; `in_progress` holds a place (and counts as a failure) while the
# password is being checked, so concurrent guesses cannot race past the throttle.
SUCCESS = "success"
BAD_CREDENTIALS = "bad_credentials"
THROTTLED = "throttled"
IN_PROGRESS = "in_progress"


def _ts(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


# --- what requests may hold: the schema says all that can be said without the database -------

_NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
"""Text that reaches the database, a log line or a header holds no control character (a NUL
cannot even be stored in PostgreSQL's text)."""
_NAME_CHAR = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]"

EmailAddress = Annotated[EmailStr, Field(max_length=320)]
"""An address email-validator accepts (the one auth and notify both use); `format: email`."""
LoginEmail = Annotated[str, StringConstraints(max_length=320, pattern=_NO_CONTROLS)]
"""Login takes any text: a malformed address is throttled and answered like a wrong password."""
NewPassword = Annotated[
    str,
    StringConstraints(min_length=12, max_length=128),
    Field(description="12 to 128 characters (ASVS 2.1.1); common passwords are refused."),
]
DisplayName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=100,
        pattern=rf"^{_NAME_CHAR}*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029]{_NAME_CHAR}*$",
    ),
]
OpaqueToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,200}$")]
"""Verification, reset and refresh tokens: 32 random bytes, URL-safe base64."""


# --- users ----------------------------------------------------------------------------------


class UserBase(SQLModel):
    email: str = Field(max_length=320)
    display_name: str = Field(min_length=1, max_length=100)


class UserCreate(SQLModel):
    """The registration request; the password policy is checked by the use case."""

    email: EmailAddress
    password: NewPassword
    display_name: DisplayName


class User(UserBase, table=True):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"status IN ('{PENDING}', '{ACTIVE}', '{DISABLED}')", name="user_status"),
        CheckConstraint(
            f"email_status IN ('{EMAIL_UNKNOWN}', '{EMAIL_SENT}', '{EMAIL_FAILED}', "
            f"'{EMAIL_BOUNCED}')",
            name="user_email_status",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Uniqueness is case-insensitive: the key is the lower-cased normalised address.
    email_key: str = Field(max_length=320, unique=True)
    password_hash: str
    status: str = Field(default=PENDING, max_length=16)
    email_status: str = Field(default=EMAIL_UNKNOWN, max_length=16)
    email_status_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    email_status_detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=_ts())
    verified_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    first_login_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class UserPublic(UserBase):
    id: uuid.UUID
    status: str
    email_status: str
    email_deliverable: bool
    created_at: datetime
    verified_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            status=user.status,
            email_status=user.email_status,
            email_deliverable=user.email_status not in (EMAIL_FAILED, EMAIL_BOUNCED),
            created_at=user.created_at,
            verified_at=user.verified_at,
        )


class Accepted(SQLModel):
    """The answer to a request whose outcome depends on whether an account exists: the same
    for every address, so it tells no one which addresses have accounts."""

    status: str = "accepted"
    detail: str


# --- verification ---------------------------------------------------------------------------


class VerificationToken(SQLModel, table=True):
    __tablename__ = "verification_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 hex; the token is never stored
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    superseded_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class VerifyRequest(SQLModel):
    token: OpaqueToken


class ResendRequest(SQLModel):
    email: EmailAddress


# --- password reset -------------------------------------------------------------------------


class PasswordResetToken(SQLModel, table=True):
    __tablename__ = "password_reset_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 hex; the token is never stored
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ForgotRequest(SQLModel):
    email: EmailAddress


class ResetRequest(SQLModel):
    token: OpaqueToken
    password: NewPassword


# --- sessions -------------------------------------------------------------------------------


class Session(SQLModel, table=True):
    """A login: the family of refresh tokens that rotate from it."""

    __tablename__ = "sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    revoked_reason: str | None = Field(default=None, max_length=32)


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="sessions.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    rotated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class LoginRequest(SQLModel):
    email: LoginEmail
    password: str = Field(max_length=1024)


class RefreshRequest(SQLModel):
    refresh_token: OpaqueToken


class LogoutRequest(SQLModel):
    refresh_token: OpaqueToken | None = None


class TokenPair(SQLModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


# --- login audit (also the throttle's memory) -------------------------------------------------


class LoginAttempt(SQLModel, table=True):
    """One login attempt, kept for the audit and read by the throttle; never the password."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("login_attempts_by_email", "email_key", "at"),
        Index("login_attempts_by_address", "client_address", "at"),
        Index("login_attempts_by_network", "client_network", "at"),
        Index("login_attempts_at", "at"),  # retention: the pruner deletes by age
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    email_key: str = Field(max_length=320)
    client_address: str = Field(max_length=64)
    client_network: str = Field(max_length=64)  # what the throttle counts by (networks.py)
    user_agent: str | None = Field(default=None, max_length=300)
    # success | bad_credentials | pending | disabled | throttled | in_progress
    outcome: str = Field(max_length=32)
    first_login: bool = False
    at: datetime = Field(sa_column=_ts())


# --- requests that send mail, limited per network and per target (registration, reset) -------

REGISTER, RESET = "register", "reset"


class RequestEvent(SQLModel, table=True):
    """One admitted request that may send mail; the limits count these (and only these)."""

    __tablename__ = "request_events"
    __table_args__ = (
        Index("request_events_by_network", "action", "client_network", "at"),
        Index("request_events_by_target", "action", "target_key", "at"),
        Index("request_events_at", "at"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    action: str = Field(max_length=16)
    client_network: str = Field(max_length=64)
    target_key: str = Field(max_length=320)
    at: datetime = Field(sa_column=_ts())
