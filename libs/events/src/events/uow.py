"""The unit of work: one transaction, with the outbox and inbox riding in it.

`async with uow() as tx:` opens it, `await tx.commit()` commits, and leaving the block without a
commit rolls back; repositories never commit. A unit of work is used once: build a new one per
request or per delivery.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events._inbox import claim
from events.envelope import Event, EventData, new_event
from events.outbox import add_to_outbox
from events.projection import upsert_newer
from events.publisher import check_contract
from events.routing import Delivery


class UnitOfWork:
    """Services subclass it to add their repositories in `__aenter__`."""

    db: AsyncSession
    """The SQLAlchemy session of this transaction (repositories share it)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._unwritten: list[Event[Any]] = []

    async def __aenter__(self) -> Self:
        self.db = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed. It does not expire what was loaded (an
        # explicit rollback would), so objects read in the unit of work stay readable after it.
        self._unwritten.clear()
        await self.db.close()

    async def commit(self) -> None:
        # The events published in this unit of work go to the outbox in one statement, in the
        # transaction they belong to (one round trip, however many were published).
        events, self._unwritten = self._unwritten, []
        await add_to_outbox(self.db, *events)
        await self.db.commit()

    async def rollback(self) -> None:
        self._unwritten.clear()
        await self.db.rollback()

    async def publish(
        self,
        data: EventData,
        *,
        subject: str | uuid.UUID | None,
        event_id: uuid.UUID | None = None,
        time: datetime | None = None,
    ) -> Event[Any]:
        """Queue an event carrying `data` for the outbox: it is written with the commit and
        leaves only if the commit succeeds. The envelope inherits the correlation of the request
        or delivery in progress. A contract violation is raised here, where it was made."""
        event = new_event(
            data,
            subject=str(subject) if subject is not None else None,
            event_id=event_id,
            time=time,
        )
        await self.publish_event(event)
        return event

    async def publish_event(self, event: Event[Any]) -> None:
        """Queue an envelope built elsewhere (a test's example event, a bench's fixture)."""
        check_contract(event)
        self._unwritten.append(event)

    async def claim(self, delivery: Delivery[Any]) -> bool:
        """Record the delivery in the inbox; False means it was already processed: skip it."""
        return await claim(self.db, delivery)

    async def upsert_newer(self, model: type[Any], values: dict[str, Any]) -> bool:
        """Write a projection row only if its `version` is newer than the stored one; False means
        the event was stale (older or the same version) and nothing changed."""
        return await upsert_newer(self.db, model, values)
