"""The base of every service's container: settings, database, clock, bound use cases.

A service's `container.py` subclasses it with its adapters and says which unit of work it uses;
`build(settings)` there is the composition root. Nothing here runs at import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events.db import create_engine, session_factory
from events.uow import UnitOfWork
from servicekit.binding import Bindings
from servicekit.clock import Clock, SystemClock
from servicekit.settings import ServiceSettings

R = TypeVar("R")


def open_database(settings: ServiceSettings) -> AsyncEngine:
    return create_engine(settings.database_url.get_secret_value(), pool_size=settings.db_pool_size)


@dataclass(kw_only=True)
class ServiceContainer:
    """What every use case may ask for by name: `settings`, `clock`, `uow`, and the engine."""

    settings: ServiceSettings
    engine: AsyncEngine
    clock: Clock = field(default_factory=SystemClock)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    _closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list, init=False)
    _bindings: Bindings = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)
        self._bindings = Bindings(self)

    def uow(self) -> UnitOfWork:
        """A new unit of work; services return their subclass with its repositories."""
        return UnitOfWork(self.sessions)

    def bound(self, use_case: Callable[..., R]) -> Callable[..., R]:
        """`use_case` with its dependencies from this container (bound once, then cached)."""
        return self._bindings(use_case)

    def on_close(self, closer: Callable[[], Awaitable[Any]]) -> None:
        """Run `closer` when the container closes (adapters' clients), before the engine goes."""
        self._closers.append(closer)

    async def close(self) -> None:
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()
        await self.engine.dispose()
