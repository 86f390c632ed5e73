"""Delivery status notifications (RFC 3464): the bounces an SMTP server mails back.

A DSN is multipart/report; its message/delivery-status part has one block for the message and
one per recipient (Final-Recipient, Action, Status, Diagnostic-Code). Only `Action: failed` with a
5.x.x status is a permanent failure; `delayed` and 4.x.x are the sender's retries, not bounces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message


@dataclass(frozen=True)
class RecipientStatus:
    address: str
    action: str
    status: str
    diagnostic: str

    @property
    def permanent_failure(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass(frozen=True)
class DeliveryReport:
    report_id: str
    original_message_id: str | None
    recipients: list[RecipientStatus]


def _address(field: str | None) -> str:
    # "rfc822; someone@example.org" -> "someone@example.org"
    value = (field or "").split(";", 1)[-1].strip()
    return value.strip("<>")


MAX_PARTS = 32
MAX_RECIPIENT_BLOCKS = 50


class TooComplex(ValueError):
    """More MIME parts or recipient blocks than any real report has: a parser bomb."""


def check_structure(raw: bytes) -> None:
    """Refuse, before parsing, what only a crafted message has: the stdlib's parser is
    superlinear on deeply nested or very many parts (seconds per hundred KiB)."""
    lowered = raw.lower()
    if lowered.count(b"content-type:") > MAX_PARTS:
        raise TooComplex(f"more than {MAX_PARTS} MIME parts")
    if lowered.count(b"final-recipient:") > MAX_RECIPIENT_BLOCKS:
        raise TooComplex(f"more than {MAX_RECIPIENT_BLOCKS} recipients")


def parse_bounded(raw: bytes) -> DeliveryReport | None:
    """`parse` behind `check_structure`: what the listener runs, in a worker thread."""
    check_structure(raw)
    return parse(raw)


def parse(raw: bytes) -> DeliveryReport | None:
    """The report in a received message, or None if it is not a DSN."""
    message = message_from_bytes(raw, policy=policy.default)
    if message.get_content_type() != "multipart/report":
        return None
    report_type = message.get_param("report-type")
    if not isinstance(report_type, str) or report_type.lower() != "delivery-status":
        return None
    recipients: list[RecipientStatus] = []
    original: str | None = None
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            blocks = part.get_payload()
            if isinstance(blocks, list):
                recipients += [
                    _recipient(b)
                    for b in blocks[1:]
                    if isinstance(b, Message) and b.get("Final-Recipient")
                ]
        elif content_type in ("message/rfc822", "text/rfc822-headers"):
            original = original or _original_message_id(part)
    if not recipients:
        return None
    report_id = str(message.get("Message-ID") or "") or hashlib.sha256(raw).hexdigest()
    return DeliveryReport(report_id.strip(), original, recipients)


def _recipient(block: Message) -> RecipientStatus:
    return RecipientStatus(
        address=_address(block.get("Final-Recipient") or block.get("Original-Recipient")),
        action=str(block.get("Action") or "").strip().lower(),
        status=str(block.get("Status") or "").strip(),
        diagnostic=_address(block.get("Diagnostic-Code")) if block.get("Diagnostic-Code") else "",
    )


def _original_message_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            value = inner[0].get("Message-ID")
            return str(value).strip() if value else None
        return None
    text = part.get_payload(decode=True)
    if isinstance(text, bytes):
        headers = message_from_bytes(text, policy=policy.default)
        value = headers.get("Message-ID")
        return str(value).strip() if value else None
    return None


def build(
    *,
    reporting_mta: str,
    original: EmailMessage,
    recipient: str,
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 user unknown",
    action: str = "failed",
    include_original: bool = True,
) -> EmailMessage:
    """A DSN as a receiving MTA would write it (tests, and replaying one by hand); some MTAs
    leave the original's headers out (`include_original=False`)."""
    report = EmailMessage()
    report["From"] = f"MAILER-DAEMON@{reporting_mta}"
    report["To"] = str(original["From"])
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = (
        f"<dsn.{hashlib.sha256(str(original['Message-ID']).encode()).hexdigest()[:16]}@{reporting_mta}>"
    )
    report.set_content("Your message could not be delivered.")
    report.make_mixed()
    status_part = EmailMessage()
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns; {reporting_mta}"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic
    status_part.set_payload([per_message, per_recipient])
    status_part.set_type("message/delivery-status")
    report.attach(status_part)
    if include_original:
        headers_part = EmailMessage()
        headers_part.set_content(
            "".join(f"{k}: {v}\n" for k, v in original.items()), subtype="rfc822-headers"
        )
        report.attach(headers_part)
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")
    return report
