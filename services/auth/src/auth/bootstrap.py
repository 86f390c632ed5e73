"""The composition root: settings in, engine, adapters, bus and apps out. Nothing at import."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from auth import handlers, keys
from auth.config import Settings
from auth.housekeeping import Housekeeper
from auth.passwords import PasswordHasher, PasswordPolicy
from auth.unit_of_work import AuthUnitOfWork
from events import BusRuntime, Router
from events.contracts import EmailBouncedV1, EmailFailedV1, EmailSentV1
from events.db import create_engine, session_factory
from events.logs import get_logger
from servicekit import runner
from servicekit.clock import Clock, SystemClock
from servicekit.runner import service_app

SERVICE = "auth"
log = get_logger("auth.bootstrap")


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    hasher: PasswordHasher
    policy: PasswordPolicy
    keys: keys.KeyRing

    def uow(self) -> AuthUnitOfWork:
        return AuthUnitOfWork(self.sessions)

    async def close(self) -> None:
        self.hasher.close()
        await self.engine.dispose()


def key_ring(settings: Settings) -> keys.KeyRing:
    loaded = [keys.load(k) for k in settings.signing_keys]
    if not loaded:
        # Only in dev (the settings refuse it elsewhere): tokens die with the process.
        log.warning("no AUTH_SIGNING_KEYS: signing with an ephemeral key (dev only)")
        loaded = [keys.generate("dev-ephemeral")]
    return keys.KeyRing(loaded, issuer=settings.issuer, audience=settings.audience)


def build(settings: Settings, *, clock: Clock | None = None) -> Container:
    engine = create_engine(
        settings.database_url.get_secret_value(), pool_size=settings.db_pool_size
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.hash_concurrency,
        ),
        policy=PasswordPolicy(settings.password_min_length, settings.password_max_length),
        keys=key_ring(settings),
    )


def router(container: Container) -> Router:
    """auth.email_status: an account's email deliverability, from notify's outcomes."""
    bus = Router(SERVICE)
    record = functools.partial(handlers.record_email_outcome, uow=container.uow)
    for model in (EmailSentV1, EmailFailedV1, EmailBouncedV1):
        bus.on("email_status", model, record)
    return bus


def runtime(container: Container, *, consume: bool, role: str) -> BusRuntime:
    return BusRuntime(
        service=SERVICE,
        settings=container.settings.bus,
        engine=container.engine,
        router=router(container) if consume else None,
        role=role,
    )


def housekeeper(container: Container) -> Housekeeper:
    """The retention pass; it runs where the consumer runs (worker, or `all`), not per api."""
    prune = functools.partial(
        handlers.prune_expired,
        uow=container.uow,
        clock=container.clock,
        settings=container.settings,
    )
    return Housekeeper(prune, container.settings.prune_interval.total_seconds())


def api_app(container: Container, *, consume: bool = False) -> FastAPI:
    from auth.api import include_routes

    chores = [housekeeper(container)] if consume else []
    return service_app(
        title="auth",
        description="Registration, email verification, login, sessions and the JWKS.",
        runtime=runtime(container, consume=consume, role="all" if consume else "api"),
        engine=container.engine,
        include_routes=include_routes,
        state={"container": container},
        on_start=[c.start for c in chores],
        # Stopped in reverse: the chores first, the engine they use last.
        on_stop=[container.close, *(c.stop for c in chores)],
    )


def worker_app(container: Container) -> FastAPI:
    chores = housekeeper(container)
    return runner.worker_app(
        title="auth",
        runtime=runtime(container, consume=True, role="worker"),
        engine=container.engine,
        on_start=[chores.start],
        on_stop=[container.close, chores.stop],
    )
