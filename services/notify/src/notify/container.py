"""Notify's composition root: settings in, database, mail transport and token verifier out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from notify import webhook_signature
from notify.adapters import mailer_for
from notify.config import Settings
from notify.mailer import Mailer
from notify.unit_of_work import NotifyUnitOfWork
from servicekit.caller import verifier_for
from servicekit.clock import Clock, SystemClock
from servicekit.container import ServiceContainer, open_database
from servicekit.tokens import JwksVerifier


@dataclass(kw_only=True)
class Container(ServiceContainer):
    settings: Settings
    mailer: Mailer
    verifier: JwksVerifier
    webhook_key: ec.EllipticCurvePublicKey | None
    send_slots: asyncio.Semaphore = field(init=False)
    """Sends in flight at once (NOTIFY_MAX_CONCURRENT_SENDS), shared by every queue."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.send_slots = asyncio.Semaphore(self.settings.max_concurrent_sends)

    def uow(self) -> NotifyUnitOfWork:
        return NotifyUnitOfWork(self.sessions)


def build(
    settings: Settings, *, clock: Clock | None = None, mailer: Mailer | None = None
) -> Container:
    container = Container(
        settings=settings,
        engine=open_database(settings),
        clock=clock or SystemClock(),
        mailer=mailer or mailer_for(settings),
        verifier=verifier_for(settings.tokens),
        webhook_key=(
            webhook_signature.load_public_key(settings.webhook_public_key)
            if settings.webhook_public_key
            else None
        ),
    )
    container.on_close(container.mailer.close)
    container.on_close(container.verifier.close)
    return container
