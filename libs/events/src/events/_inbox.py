"""The inbox: a handler's effects and the record that it ran commit together, or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from events.outcomes import note_duplicate
from events.routing import Delivery
from events.tables import inbox

# Built once: this runs for every delivery, and constructing the statement costs more than
# executing its cached compiled form.
_CLAIM = (
    insert(inbox)
    .values(
        consumer=bindparam("consumer"),
        event_id=bindparam("event_id"),
        event_type=bindparam("event_type"),
    )
    .on_conflict_do_nothing()
    .returning(inbox.c.event_id)
)


async def claim(session: AsyncSession, delivery: Delivery[Any]) -> bool:
    """Record this delivery in the handler's transaction; False if it was processed before.

    A concurrent duplicate blocks on the primary key until the first transaction ends, then sees
    the conflict: two copies never both pass.
    """
    connection = await session.connection()
    result = await connection.execute(
        _CLAIM,
        {
            "consumer": delivery.queue,
            "event_id": delivery.event.id,
            "event_type": delivery.event.type,
        },
    )
    if result.first() is None:
        note_duplicate()
        return False
    return True
