"""Media's tables and API shapes; the portfolio projection that decides who may do what."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

Status = Literal["pending", "uploaded", "ready", "failed", "deleted"]
"""pending: a direct upload not completed yet; uploaded: stored, awaiting its variants."""


def _ts(nullable: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class Media(SQLModel, table=True):
    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'uploaded', 'ready', 'failed', 'deleted')", name="media_status"
        ),
        Index("media_item", "item_id"),
        Index("media_portfolio", "portfolio_id"),
        Index("media_purge_due", "purge_after", postgresql_where=text("purge_after IS NOT NULL")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID
    uploader_id: uuid.UUID
    portfolio_id: uuid.UUID
    item_id: uuid.UUID
    status: str = Field(max_length=16)
    content_type: str = Field(max_length=64)
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    checksum_sha256: str | None = Field(default=None, max_length=64)
    original_key: str = Field(max_length=500)
    version: int = 1
    failure_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    processed_at: datetime | None = _ts(nullable=True)
    purge_after: datetime | None = _ts(nullable=True)


class Variant(SQLModel, table=True):
    __tablename__ = "variants"

    media_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True)
    )
    name: str = Field(primary_key=True, max_length=32)
    width: int
    height: int
    content_type: str = Field(max_length=32)
    size_bytes: int
    object_key: str = Field(max_length=500)


class PortfolioAccess(SQLModel, table=True):
    """Who may upload to and read a portfolio's media: a projection of portfolio's events."""

    __tablename__ = "portfolio_access"

    portfolio_id: uuid.UUID = Field(primary_key=True)
    owner_id: uuid.UUID
    visibility: str = Field(max_length=16)
    collaborators: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    deleted: bool = False
    version: int


class ItemAccess(SQLModel, table=True):
    __tablename__ = "item_access"

    item_id: uuid.UUID = Field(primary_key=True)
    portfolio_id: uuid.UUID = Field(index=True)
    removed: bool = False
    version: int


# --- what the API answers -------------------------------------------------------------------


class VariantPublic(BaseModel):
    name: str
    width: int
    height: int
    content_type: str
    size_bytes: int
    url: str
    """A signed URL: valid for a short while, then refused by the store."""


class MediaPublic(BaseModel):
    id: uuid.UUID
    status: Status
    portfolio_id: uuid.UUID
    item_id: uuid.UUID
    content_type: str
    size_bytes: int
    width: int
    height: int
    version: int
    failure_reason: str | None
    variants: list[VariantPublic]
    urls_expire_at: datetime | None


class DirectUploadRequest(BaseModel):
    item_id: uuid.UUID
    content_type: Literal["image/jpeg", "image/png", "image/webp", "image/gif"]
    size_bytes: int = PydanticField(gt=0)


class DirectUpload(BaseModel):
    media_id: uuid.UUID
    url: str
    fields: dict[str, str]
    """Post these form fields, then the file as the last field named `file`, to `url`."""
    max_size: int
    expires_at: datetime
    complete: str
    """POST here once the store accepted the file."""
