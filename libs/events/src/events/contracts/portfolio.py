"""Events published by the portfolio service.

The portfolio is the aggregate: every event of a portfolio, its items' included, carries the
portfolio's `version` after the change, so a consumer that receives them late, twice or out of
order keeps the newest state and drops a stale one. Events that describe the portfolio carry its
whole state (a consumer never needs to ask for it), and `changed` names what changed.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.envelope import EventData

Visibility = Literal["public", "unlisted", "private"]
"""public: listed and searchable; unlisted: anyone with the link; private: members only."""
Role = Literal["editor", "viewer"]


class Collaborator(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: uuid.UUID
    role: Role


class _PortfolioEvent(EventData):
    producer: ClassVar[str] = "portfolio"

    portfolio_id: uuid.UUID
    owner_id: uuid.UUID
    version: int = Field(ge=1, description="The portfolio's version after this change.")


class _PortfolioState(_PortfolioEvent):
    title: str
    slug: str
    description: str = ""
    visibility: Visibility
    collaborators: list[Collaborator] = Field(default_factory=list)


class PortfolioCreatedV1(_PortfolioState):
    """A portfolio was created."""

    event_type: ClassVar[str] = "portfolio.created.v1"

    created_at: AwareDatetime


class PortfolioUpdatedV1(_PortfolioState):
    """A portfolio's attributes or collaborators changed; the event carries the whole new state."""

    event_type: ClassVar[str] = "portfolio.updated.v1"

    changed: list[str] = Field(description="The fields that changed (title, visibility, ...).")
    previous_slug: str | None = Field(default=None, description="Set when the slug changed.")
    updated_at: AwareDatetime


class PortfolioDeletedV1(_PortfolioEvent):
    """A portfolio was deleted (soft): gone from every read until restored or purged."""

    event_type: ClassVar[str] = "portfolio.deleted.v1"

    slug: str
    deleted_at: AwareDatetime
    purge_after: AwareDatetime = Field(description="When it is purged if not restored.")


class PortfolioRestoredV1(_PortfolioState):
    """A deleted portfolio came back within its retention window, with its items."""

    event_type: ClassVar[str] = "portfolio.restored.v1"

    restored_at: AwareDatetime


class PortfolioPurgedV1(_PortfolioEvent):
    """A deleted portfolio was removed for good, its items and collaborators with it."""

    event_type: ClassVar[str] = "portfolio.purged.v1"

    item_ids: list[uuid.UUID] = Field(default_factory=list)
    media_ids: list[uuid.UUID] = Field(default_factory=list)
    purged_at: AwareDatetime


class _ItemState(_PortfolioEvent):
    item_id: uuid.UUID
    item_version: int = Field(ge=1)
    title: str
    description: str = ""
    position: int = Field(ge=0)
    media_id: uuid.UUID | None = None


class PortfolioItemAddedV1(_ItemState):
    """An item was added to a portfolio."""

    event_type: ClassVar[str] = "portfolio.item_added.v1"

    added_at: AwareDatetime


class PortfolioItemUpdatedV1(_ItemState):
    """An item changed (text, image, or position); the event carries its whole new state."""

    event_type: ClassVar[str] = "portfolio.item_updated.v1"

    changed: list[str]
    updated_at: AwareDatetime


class PortfolioItemRemovedV1(_PortfolioEvent):
    """An item was removed from a portfolio (soft: its media may be purged later)."""

    event_type: ClassVar[str] = "portfolio.item_removed.v1"

    item_id: uuid.UUID
    media_id: uuid.UUID | None = None
    removed_at: AwareDatetime
