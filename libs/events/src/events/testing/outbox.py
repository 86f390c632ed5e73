"""The outbox drained into memory, each event checked against its contract."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from events.catalog import CATALOG, Catalog
from events.envelope import Event, EventData
from events.outbox import OutboxRelay

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=EventData)


class ContractRecorder:
    """A publisher for the outbox relay that validates each body against its type's contract."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self.catalog = catalog
        self.events: list[Event[Any]] = []

    @property
    def ready(self) -> bool:
        return True

    async def publish_body(self, meta: Any, body: bytes) -> None:
        model = self.catalog.event(meta.type).model
        self.events.append(Event[model].model_validate_json(body))  # type: ignore[valid-type]


async def drain_outbox(engine: AsyncEngine, catalog: Catalog = CATALOG) -> list[Event[Any]]:
    """Relay every pending outbox row into memory, each checked by the contract kit, in order."""
    recorder = ContractRecorder(catalog)
    relay = OutboxRelay(engine, recorder)
    while await relay.relay_once():
        pass
    return recorder.events
