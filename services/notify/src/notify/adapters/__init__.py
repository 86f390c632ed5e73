"""Email transports behind notify.mailer.Mailer, chosen by NOTIFY_TRANSPORT."""

from __future__ import annotations

from notify.adapters.sendgrid import SendgridMailer
from notify.adapters.smtp import SmtpMailer
from notify.config import Settings
from notify.mailer import Mailer


def mailer_for(settings: Settings) -> Mailer:
    if settings.transport == "sendgrid":
        return SendgridMailer(settings.sendgrid)
    return SmtpMailer(settings.smtp)
