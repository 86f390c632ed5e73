"""The unit of work: one transaction, with the outbox and inbox riding in it.

`async with uow:` opens it, `await uow.commit()` commits, and leaving the block without a commit
rolls back; repositories never commit. A unit of work is used once: build a new one per request or
per delivery.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events import inbox, outbox
from events.envelope import Event
from events.routing import Delivery


class UnitOfWork:
    """Services subclass it to add their repositories in `__aenter__`."""

    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed. It does not expire what was loaded (an
        # explicit rollback would), so objects read in the unit of work stay readable after it.
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def publish(self, event: Event[Any]) -> None:
        """Queue `event` in the outbox: it leaves only if this unit of work commits."""
        await outbox.add(self.session, event)

    async def claim(self, delivery: Delivery[Any]) -> bool:
        """Record the delivery in the inbox; False means it was already processed: skip it."""
        return await inbox.claim(self.session, delivery)
