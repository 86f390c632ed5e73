"""Events published by the portfolio service.

Each carries the aggregate's `version`, so a consumer that receives them out of order (two relays,
a retry) can keep the newest state and drop a stale one.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from events.envelope import EventData

Visibility = Literal["public", "private"]


class PortfolioCreatedV1(EventData):
    """A portfolio was created."""

    event_type: ClassVar[str] = "portfolio.created.v1"
    producer: ClassVar[str] = "portfolio"

    portfolio_id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    slug: str
    description: str = ""
    visibility: Visibility
    tags: list[str] = Field(default_factory=list)
    version: int = Field(ge=1)
    created_at: AwareDatetime


class PortfolioUpdatedV1(EventData):
    """A portfolio's attributes changed; the event carries the whole new state."""

    event_type: ClassVar[str] = "portfolio.updated.v1"
    producer: ClassVar[str] = "portfolio"

    portfolio_id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    slug: str
    description: str = ""
    visibility: Visibility
    tags: list[str] = Field(default_factory=list)
    version: int = Field(ge=1)
    updated_at: AwareDatetime


class PortfolioDeletedV1(EventData):
    """A portfolio was (soft) deleted; its media may be purged."""

    event_type: ClassVar[str] = "portfolio.deleted.v1"
    producer: ClassVar[str] = "portfolio"

    portfolio_id: uuid.UUID
    owner_id: uuid.UUID
    version: int = Field(ge=1)
    deleted_at: AwareDatetime


class PortfolioItemAddedV1(EventData):
    """An item was added to a portfolio."""

    event_type: ClassVar[str] = "portfolio.item_added.v1"
    producer: ClassVar[str] = "portfolio"

    portfolio_id: uuid.UUID
    item_id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str = ""
    media_id: uuid.UUID | None = None
    position: int = Field(ge=0)
    version: int = Field(ge=1)
    added_at: AwareDatetime


class PortfolioItemRemovedV1(EventData):
    """An item was removed from a portfolio."""

    event_type: ClassVar[str] = "portfolio.item_removed.v1"
    producer: ClassVar[str] = "portfolio"

    portfolio_id: uuid.UUID
    item_id: uuid.UUID
    owner_id: uuid.UUID
    version: int = Field(ge=1)
    removed_at: AwareDatetime
