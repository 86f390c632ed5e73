"""The composition root: settings in, engine, transport, bus and apps out. Nothing at import."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events import BusRuntime, Router
from events.contracts import UserLoggedInV1, UserRegisteredV1, UserVerificationRequestedV1
from events.db import create_engine, session_factory
from notify import handlers, webhook_signature
from notify.adapters import mailer_for
from notify.adapters.dsn_listener import listener
from notify.adapters.smtp_listener import SmtpListener
from notify.config import Settings
from notify.mailer import Mailer
from notify.unit_of_work import NotifyUnitOfWork
from servicekit import runner
from servicekit.clock import Clock, SystemClock
from servicekit.runner import service_app
from servicekit.tokens import JwksVerifier

SERVICE = "notify"
# handler name -> (event model, what it sends)
EMAILS: dict[str, tuple[type, handlers.Composer]] = {
    "welcome_email": (UserRegisteredV1, handlers.welcome),
    "verification_email": (UserVerificationRequestedV1, handlers.verification),
    "onboarding_email": (UserLoggedInV1, handlers.onboarding),
}


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    mailer: Mailer
    verifier: JwksVerifier
    webhook_key: ec.EllipticCurvePublicKey | None

    def uow(self) -> NotifyUnitOfWork:
        return NotifyUnitOfWork(self.sessions)

    async def close(self) -> None:
        await self.mailer.close()
        await self.verifier.close()
        await self.engine.dispose()


def build(
    settings: Settings, *, clock: Clock | None = None, mailer: Mailer | None = None
) -> Container:
    engine = create_engine(
        settings.database_url.get_secret_value(), pool_size=settings.db_pool_size
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
        mailer=mailer or mailer_for(settings),
        verifier=JwksVerifier(
            settings.jwks_url, issuer=settings.issuer, audience=settings.audience
        ),
        webhook_key=(
            webhook_signature.load_public_key(settings.webhook_public_key)
            if settings.webhook_public_key
            else None
        ),
    )


def router(container: Container) -> Router:
    """One queue per email; each gives up with email.failed.v1 before it is parked."""
    bus = Router(SERVICE)
    uow, settings, clock = container.uow, container.settings, container.clock
    for name, (model, composer) in EMAILS.items():
        send = functools.partial(
            handlers.send_email,
            composer=composer,
            mailer=container.mailer,
            uow=uow,
            settings=settings,
            clock=clock,
        )
        give_up = functools.partial(
            handlers.record_exhausted, composer=composer, uow=uow, settings=settings, clock=clock
        )
        bus.on(name, model, send)
        bus.on_dead_letter(name, give_up)
    return bus


def runtime(container: Container, *, consume: bool, role: str) -> BusRuntime:
    return BusRuntime(
        service=SERVICE,
        settings=container.settings.bus,
        engine=container.engine,
        router=router(container) if consume else None,
        role=role,
    )


def dsn_listener(container: Container) -> SmtpListener | None:
    settings = container.settings
    if settings.bounce.port is None:
        return None
    return listener(
        settings.bounce.host,
        settings.bounce.port,
        settings.bounce_address,
        functools.partial(
            handlers.handle_delivery_report, uow=container.uow, clock=container.clock
        ),
    )


def api_app(container: Container, *, consume: bool = False) -> FastAPI:
    from notify.api import include_routes

    bounces = dsn_listener(container) if consume else None
    return service_app(
        title="notify",
        description="Email delivery, failures, bounces and the suppression list.",
        runtime=runtime(container, consume=consume, role="all" if consume else "api"),
        engine=container.engine,
        include_routes=include_routes,
        state={"container": container},
        on_start=[bounces.start] if bounces else [],
        on_stop=[container.close, *([bounces.stop] if bounces else [])],
    )


def worker_app(container: Container) -> FastAPI:
    """The consumer, with the DSN listener beside it."""
    bounces = dsn_listener(container)
    return runner.worker_app(
        title="notify",
        runtime=runtime(container, consume=True, role="worker"),
        engine=container.engine,
        on_start=[bounces.start] if bounces else [],
        on_stop=[container.close, *([bounces.stop] if bounces else [])],
    )
