"""SMTP transport (aiosmtplib): plain, STARTTLS or implicit TLS, optional login."""

from __future__ import annotations

import aiosmtplib

from notify.config import SmtpSettings
from notify.mailer import OutgoingEmail, PermanentSendError, SendResult, TransientSendError

# Authentication and sender refusals are our configuration, not the recipient's: retry them, and
# let the DLQ alert someone, rather than fail every email for good.
_OUR_FAULT = {530, 534, 535, 538}


def classify(code: int, message: str) -> Exception:
    if 400 <= code < 500 or code in _OUR_FAULT:
        return TransientSendError(f"SMTP {code}: {message}")
    return PermanentSendError(f"SMTP {code}: {message}")


class SmtpMailer:
    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

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
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                timeout=s.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            raise classify(refusal.code, refusal.message) from exc
        except aiosmtplib.SMTPSenderRefused as exc:
            raise TransientSendError(f"sender refused: SMTP {exc.code}: {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise classify(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused, reset, timed out, TLS failures: the server, not the recipient.
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        if errors:
            code, message = next(iter(errors.values()))
            raise classify(code, message)
        return SendResult(self.name, email.message_id)
