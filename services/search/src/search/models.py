"""Search's projection of portfolios, items, media and owners, from their services' events; the
index documents are rendered from it. The API's answers.

The tables are prefixed `projected_`: every service's models share SQLModel's metadata when one
process imports them all (the local runner, the contract tests), and portfolio has an `owners`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class PortfolioState(SQLModel, table=True):
    __tablename__ = "projected_portfolios"

    portfolio_id: uuid.UUID = Field(primary_key=True)
    owner_id: uuid.UUID
    title: str = ""
    description: str = ""
    visibility: str = Field(default="private", max_length=16)
    deleted: bool = False
    version: int = 0
    """The newest portfolio version applied: older events change nothing."""
    revision: int = 0
    """The document's version: one more for every change applied, in commit order (several
    events can carry one portfolio version, and they may be applied in any order)."""
    updated_at: datetime | None = _ts()


class ItemState(SQLModel, table=True):
    __tablename__ = "projected_items"

    item_id: uuid.UUID = Field(primary_key=True)
    portfolio_id: uuid.UUID = Field(index=True)
    title: str = ""
    description: str = ""
    position: int = 0
    media_id: uuid.UUID | None = Field(default=None, index=True)
    removed: bool = False
    version: int = 0


class MediaThumbnail(SQLModel, table=True):
    __tablename__ = "projected_thumbnails"

    media_id: uuid.UUID = Field(primary_key=True)
    thumbnail_key: str = Field(max_length=500)
    version: int


class Owner(SQLModel, table=True):
    __tablename__ = "projected_owners"

    user_id: uuid.UUID = Field(primary_key=True)
    display_name: str = Field(max_length=100)


class HitPublic(BaseModel):
    portfolio_id: uuid.UUID
    title: str
    owner_name: str
    thumbnail: str | None
    updated_at: datetime
    highlights: dict[str, str]


class ResultsPublic(BaseModel):
    hits: list[HitPublic]
    next_cursor: str | None
    estimated_total: int
