"""A person's own email history."""

from __future__ import annotations

import uuid

from events import get_logger
from notify.handlers.common import (
    UowFactory,
)
from notify.models import (
    Email,
)

log = get_logger("notify.history")


async def emails_of(user_id: uuid.UUID, *, uow: UowFactory) -> list[Email]:
    async with uow() as tx:
        return await tx.emails.of_user(user_id)
