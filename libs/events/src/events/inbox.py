"""The inbox: a handler's effects and the record that it ran commit together, or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from events.routing import Delivery
from events.tables import inbox


async def claim(session: AsyncSession, delivery: Delivery[Any]) -> bool:
    """Record this delivery in the handler's transaction; False if it was processed before.

    A concurrent duplicate blocks on the primary key until the first transaction ends, then sees
    the conflict: two copies never both pass.
    """
    result = await session.exec(
        insert(inbox)
        .values(consumer=delivery.queue, event_id=delivery.event.id, event_type=delivery.event.type)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return result.first() is not None
