"""The port every email transport implements, and the failures a transport reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    from_address: str
    envelope_from: str
    """MAIL FROM / Return-Path: the bounce address, so DSNs come back to notify."""
    subject: str
    text: str
    html: str
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)

    def mime(self) -> EmailMessage:
        """The multipart/alternative message: plain text first, HTML preferred."""
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Message-ID"] = self.message_id
        message["Date"] = formatdate(localtime=False)
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_message_id: str | None


class SendError(Exception):
    """A transport could not hand the email over."""


class TransientSendError(SendError):
    """Worth retrying: the server or provider is down, busy or misconfigured on our side."""

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """The provider asked us not to try again sooner (HTTP Retry-After)."""


class PermanentSendError(SendError):
    """The recipient or the message is refused for good: retrying repeats the refusal."""


class InvalidRecipient(PermanentSendError):
    """The address cannot be mailed at all: no transport is asked."""


class Mailer(Protocol):
    name: str

    async def send(self, email: OutgoingEmail) -> SendResult: ...

    async def close(self) -> None:
        """Release connections (the process is stopping)."""
        ...
