"""Events published by the notify service."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from events.envelope import EventData


class EmailSentV1(EventData):
    """The provider accepted an email for delivery."""

    event_type: ClassVar[str] = "email.sent.v1"
    producer: ClassVar[str] = "notify"

    email_id: uuid.UUID
    recipient: str
    template: str
    provider: str
    provider_message_id: str | None = None
    user_id: uuid.UUID | None = None
    cause_event_id: uuid.UUID
    sent_at: AwareDatetime


class EmailFailedV1(EventData):
    """An email will not be delivered: refused for good, retries exhausted, or suppressed."""

    event_type: ClassVar[str] = "email.failed.v1"
    producer: ClassVar[str] = "notify"

    email_id: uuid.UUID | None = None
    recipient: str
    template: str
    reason: Literal["permanent", "retries_exhausted", "suppressed"]
    detail: str
    user_id: uuid.UUID | None = None
    cause_event_id: uuid.UUID
    failed_at: AwareDatetime


class EmailBouncedV1(EventData):
    """A recipient address bounced or complained; it is now suppressed."""

    event_type: ClassVar[str] = "email.bounced.v1"
    producer: ClassVar[str] = "notify"

    recipient: str
    kind: Literal["bounce", "spamreport", "dsn"]
    reason: str
    bounced_at: AwareDatetime
    provider_event_id: str | None = None


class EmailSuppressionLiftedV1(EventData):
    """An operator lifted an address's suppression (audited): mail to it is sent again."""

    event_type: ClassVar[str] = "email.suppression_lifted.v1"
    producer: ClassVar[str] = "notify"

    recipient: str = Field(description="The address, lower-cased as the suppression list keys it.")
    previous_reason: str
    lifted_at: AwareDatetime
