"""Notify's tables and API shapes: every email, the suppression list, provider events seen."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

SENDING, SENT, DELIVERED, FAILED, SUPPRESSED, BOUNCED = (
    "sending",
    "sent",
    "delivered",
    "failed",
    "suppressed",
    "bounced",
)
EXHAUSTED = "exhausted"
"""Retries ran out; not final: an operator's replay of the parked message sends it then."""
FINAL = frozenset({SENT, DELIVERED, FAILED, SUPPRESSED, BOUNCED})


def _ts(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class EmailBase(SQLModel):
    template: str = Field(max_length=64)
    recipient: str = Field(max_length=320)
    status: str = Field(default=SENDING, max_length=16)


class Email(EmailBase, table=True):
    """One email caused by one event: the pair is unique, so a redelivery finds it again."""

    __tablename__ = "emails"
    __table_args__ = (
        UniqueConstraint("cause_event_id", "template", name="email_per_cause"),
        # A delivery report without the original Message-ID is matched on the address.
        Index("ix_emails_recipient_key", text("lower(recipient)")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cause_event_id: uuid.UUID
    user_id: uuid.UUID | None = Field(default=None, index=True)
    message_id: str = Field(max_length=255, index=True)
    attempts: int = 0
    provider: str | None = Field(default=None, max_length=32)
    provider_message_id: str | None = Field(default=None, max_length=255, index=True)
    last_error: str | None = Field(default=None, max_length=1000)
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """Held while one send is in flight (NOTIFY_SMTP__TIMEOUT_S, twice over)."""
    not_before: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """The provider asked us not to try again sooner (Retry-After)."""
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class EmailPublic(EmailBase):
    id: uuid.UUID
    created_at: datetime
    sent_at: datetime | None


class Suppression(SQLModel, table=True):
    """Addresses not to send to: they bounced or their owner complained."""

    __tablename__ = "suppressions"

    address_key: str = Field(primary_key=True, max_length=320)
    reason: str = Field(max_length=16)  # bounce | spamreport | dsn
    detail: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_column=_ts())


class SuppressionPublic(SQLModel):
    address: str
    reason: str
    detail: str | None
    created_at: datetime


class LiftRequest(SQLModel):
    """Why an operator lifts a suppression: kept in the audit with who did it."""

    operator: str = Field(min_length=1, max_length=100, regex=r"^[^\x00-\x1f\x7f]+$")
    reason: str = Field(min_length=3, max_length=500, regex=r"^[^\x00-\x08\x0b-\x1f\x7f]+$")


class SuppressionAudit(SQLModel, table=True):
    """Every change to the suppression list made by a person, kept for good."""

    __tablename__ = "suppression_audit"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    address_key: str = Field(max_length=320, index=True)
    action: str = Field(max_length=16)  # lifted
    operator: str = Field(max_length=100)
    reason: str = Field(max_length=500)
    previous_reason: str | None = Field(default=None, max_length=16)
    previous_detail: str | None = Field(default=None, max_length=1000)
    suppressed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    at: datetime = Field(sa_column=_ts())


class ProviderEvent(SQLModel, table=True):
    """A webhook event or DSN already handled: providers deliver them at least once."""

    __tablename__ = "provider_events"

    source: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=255)
    received_at: datetime = Field(sa_column=_ts())
