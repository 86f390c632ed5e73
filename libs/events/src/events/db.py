"""Async engines and sessions on asyncpg, built once in a service's composition root."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

PING_AFTER_IDLE_S = 2.0
"""A pooled connection idle longer than this is checked before use; a busy one is not."""


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine on asyncpg; plain `postgresql://` URLs are accepted and given the driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    engine = create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        echo=echo,
        # A statement's parameters are people's data (emails, addresses, password hashes): an
        # error names the statement, never its values, in logs and in Sentry.
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling, only where it pays: a connection that sat idle (where a
    server restart or an idle timeout strikes) is pinged before use and replaced if dead. The
    stock `pool_pre_ping` pings at every checkout, and asyncpg's ping is three round trips
    (BEGIN, `;`, ROLLBACK): most of a short request's database time under load. A connection
    that dies while busy fails that statement; SQLAlchemy then invalidates the whole pool."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool discards this connection and checks out another (a fresh one if need be).
            raise exc.DisconnectionError() from error


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit (responses are built from them).
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def asyncpg_dsn(engine: AsyncEngine) -> str:
    """The engine's URL as a plain libpq DSN, for asyncpg's own LISTEN connection."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
