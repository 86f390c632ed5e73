"""SendGrid v3 mail-send (httpx): https://www.twilio.com/docs/sendgrid/api-reference/mail-send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import httpx

from notify.config import SendgridSettings
from notify.mailer import OutgoingEmail, PermanentSendError, SendResult, TransientSendError


def _address(value: str) -> dict[str, str]:
    name, address = parseaddr(value)
    return {"email": address, **({"name": name} if name else {})}


def payload(email: OutgoingEmail) -> dict[str, Any]:
    headers = {k: v for k, v in email.headers.items() if k.lower() != "message-id"}
    return {
        "personalizations": [{"to": [_address(email.to)]}],
        "from": _address(email.from_address),
        "subject": email.subject,
        # text/plain must come before text/html (the API enforces the order).
        "content": [
            {"type": "text/plain", "value": email.text},
            {"type": "text/html", "value": email.html},
        ],
        "headers": {**headers, "Message-ID": email.message_id},
        "custom_args": {"message_id": email.message_id},
    }


class SendgridMailer:
    name = "sendgrid"

    def __init__(self, settings: SendgridSettings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, email: OutgoingEmail) -> SendResult:
        url = self._settings.base_url.rstrip("/") + "/v3/mail/send"
        try:
            response = await self._client.post(
                url,
                json=payload(email),
                headers={
                    "Authorization": f"Bearer {self._settings.api_key.get_secret_value()}",
                },
            )
        except httpx.HTTPError as exc:
            raise TransientSendError(f"SendGrid unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 202:
            return SendResult(self.name, response.headers.get("X-Message-Id"))
        detail = _errors(response)
        if response.status_code == 429:
            wait = retry_after(response.headers.get("Retry-After"))
            shown = f"{int(wait.total_seconds())}s" if wait is not None else "unspecified"
            raise TransientSendError(
                f"SendGrid rate limit (retry after {shown}): {detail}", retry_after=wait
            )
        if response.status_code in (401, 403):
            # The key is ours: a config mistake must not fail mail for good (retry, then alert).
            raise TransientSendError(f"SendGrid refused our API key ({response.status_code})")
        if response.status_code >= 500:
            raise TransientSendError(f"SendGrid {response.status_code}: {detail}")
        raise PermanentSendError(f"SendGrid {response.status_code}: {detail}")


def retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """Retry-After as delta-seconds or an HTTP-date (RFC 9110 10.2.3); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - (now or datetime.now(UTC)))


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors", [])
        return "; ".join(str(e.get("message", e)) for e in errors) or response.text[:300]
    except ValueError:
        return response.text[:300]
