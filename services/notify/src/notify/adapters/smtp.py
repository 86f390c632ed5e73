"""SMTP transport (aiosmtplib): plain, STARTTLS or implicit TLS, optional login."""

from __future__ import annotations

import aiosmtplib

from notify.config import SmtpSettings
from notify.mailer import OutgoingEmail, PermanentSendError, SendResult, TransientSendError

# RFC 5321 4.5.3.1.10: a 552 (mailbox full) answer to RCPT is to be treated as the temporary 452.
_TEMPORARY_AT_RCPT = {552}


def recipient_refusal(code: int, message: str) -> Exception:
    """The server's answer to RCPT TO or DATA, which concerns this recipient or this message."""
    if 400 <= code < 500 or code in _TEMPORARY_AT_RCPT:
        return TransientSendError(f"SMTP {code}: {message}")
    return PermanentSendError(f"SMTP {code}: {message}")


class SmtpMailer:
    """Hands each email to a relay in its own connection (mail volume here does not warrant a
    pool, and a fresh connection never inherits a half-broken session)."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def close(self) -> None:
        return None  # nothing is held between sends

    async def send(self, email: OutgoingEmail) -> SendResult:
        s = self._settings
        try:
            errors, _ = await aiosmtplib.send(
                email.mime(),
                sender=email.envelope_from,
                recipients=[email.to],
                hostname=s.host,
                port=s.port,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",  # never opportunistic: the setting decides
                cert_bundle=s.cert_bundle,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                timeout=s.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            raise recipient_refusal(refusal.code, refusal.message) from exc
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            raise recipient_refusal(exc.code, exc.message) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # Refused at connect, HELO, AUTH (535) or MAIL FROM: the relay or our configuration,
            # never the recipient. Retry, and let the DLQ alert an operator if it lasts.
            stage = type(exc).__name__.removeprefix("SMTP")
            raise TransientSendError(f"SMTP {exc.code} ({stage}): {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused, reset, timed out, TLS failures: the server, not the recipient.
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        if errors:
            code, message = next(iter(errors.values()))
            raise recipient_refusal(code, message)
        # The relay's queue id is only in free text; our Message-ID identifies the mail instead.
        return SendResult(self.name, email.message_id)
