"""Async engines and sessions on asyncpg, built once in a service's composition root."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine on asyncpg; plain `postgresql://` URLs are accepted and given the driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        echo=echo,
        # A statement's parameters are people's data (emails, addresses, password hashes): an
        # error names the statement, never its values, in logs and in Sentry.
        hide_parameters=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit (responses are built from them).
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def asyncpg_dsn(engine: AsyncEngine) -> str:
    """The engine's URL as a plain libpq DSN, for asyncpg's own LISTEN connection."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
