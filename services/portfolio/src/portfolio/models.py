"""Portfolio's tables and API shapes: XBase -> XCreate/XUpdate -> X(table=True) -> XPublic."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints, field_validator, model_validator
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

Visibility = Literal["public", "unlisted", "private"]
Role = Literal["editor", "viewer"]
MediaStatus = Literal["none", "processing", "ready", "failed"]
Slug = Annotated[
    str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
"""Lower-case letters and digits in words joined by single hyphens: `my-paintings-2024`."""


def _ts(nullable: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class Owner(SQLModel, table=True):
    """A person who may own or join portfolios: a projection of auth's users."""

    __tablename__ = "owners"

    user_id: uuid.UUID = Field(primary_key=True)
    display_name: str = Field(max_length=100)
    handle: str = Field(max_length=64, unique=True)
    verified: bool = False
    registered_at: datetime = _ts()


# --- portfolios -------------------------------------------------------------------------------


class PortfolioBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)


class PortfolioCreate(PortfolioBase):
    visibility: Visibility = "private"
    slug: Slug | None = None
    """Derived from the title when not given."""


class PortfolioUpdate(SQLModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=5000)
    visibility: Visibility | None = None

    @model_validator(mode="after")
    def _something(self) -> PortfolioUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of title, slug, description, visibility")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Portfolio(PortfolioBase, table=True):
    __tablename__ = "portfolios"
    __table_args__ = (
        CheckConstraint("visibility IN ('public', 'unlisted', 'private')", name="visibility"),
        CheckConstraint("version >= 1", name="portfolio_version"),
        # A slug is unique per owner among live portfolios: a deleted one frees it.
        Index(
            "portfolios_live_slug",
            "owner_id",
            "slug",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("portfolios_owner_created", "owner_id", "created_at", "id"),
        Index("portfolios_deleted", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="owners.user_id")
    slug: str = Field(max_length=80)
    visibility: str = Field(default="private", max_length=16)
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True)


# --- items --------------------------------------------------------------------------------


class ItemBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    media_id: uuid.UUID | None = None


class ItemCreate(ItemBase):
    pass


class ItemsCreate(BaseModel):
    items: list[ItemCreate] = Field(min_length=1, max_length=50)


class ItemUpdate(SQLModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    media_id: uuid.UUID | None = None
    """Send null to take the image off the item."""

    @model_validator(mode="after")
    def _something(self) -> ItemUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of title, description, media_id")
        for name in self.model_fields_set - {"media_id"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Reorder(BaseModel):
    item_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)

    @field_validator("item_ids")
    @classmethod
    def _distinct(cls, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(ids)) != len(ids):
            raise ValueError("each item may appear once")
        return ids


class Item(ItemBase, table=True):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint(
            "media_status IN ('none', 'processing', 'ready', 'failed')", name="media_status"
        ),
        CheckConstraint("position >= 0", name="item_position"),
        Index(
            "items_live_position",
            "portfolio_id",
            "position",
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    portfolio_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("portfolios.id", ondelete="CASCADE"), nullable=False)
    )
    position: int
    media_status: str = Field(default="none", max_length=16)
    media_version: int = 0
    variants: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    thumbnail_key: str | None = Field(default=None, max_length=500)
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True)


# --- collaborators --------------------------------------------------------------------------


class CollaboratorSet(BaseModel):
    role: Role


class Collaborator(SQLModel, table=True):
    __tablename__ = "collaborators"
    __table_args__ = (
        CheckConstraint("role IN ('editor', 'viewer')", name="collaborator_role"),
        Index("collaborators_user", "user_id"),
    )

    portfolio_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: uuid.UUID = Field(foreign_key="owners.user_id", primary_key=True)
    role: str = Field(max_length=16)
    added_at: datetime = _ts()


# --- what the API answers -------------------------------------------------------------------


class VariantPublic(BaseModel):
    name: str
    width: int
    height: int
    content_type: str
    object_key: str


class ItemPublic(BaseModel):
    id: uuid.UUID
    position: int
    title: str
    description: str
    media_id: uuid.UUID | None
    media_status: MediaStatus
    variants: list[VariantPublic]
    thumbnail_key: str | None
    version: int

    @classmethod
    def of(cls, item: Item) -> ItemPublic:
        return cls.model_validate(item, from_attributes=True)


class CollaboratorPublic(BaseModel):
    user_id: uuid.UUID
    role: Role


class PortfolioPublic(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_handle: str
    title: str
    slug: str
    description: str
    visibility: Visibility
    version: int
    created_at: datetime
    updated_at: datetime
    items: list[ItemPublic]
    collaborators: list[CollaboratorPublic] | None = None
    """Shown to the portfolio's members only."""


class PortfolioSummary(BaseModel):
    id: uuid.UUID
    title: str
    slug: str
    visibility: Visibility
    version: int
    created_at: datetime
    updated_at: datetime


class PortfolioPage(BaseModel):
    items: list[PortfolioSummary]
    next_cursor: str | None
