"""Events published by the media service."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.envelope import EventData


class MediaVariant(BaseModel):
    """One resized rendition of an uploaded image."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    content_type: str
    size_bytes: int = Field(ge=0)
    object_key: str


class MediaUploadedV1(EventData):
    """An original was stored and awaits processing (the media worker consumes this)."""

    event_type: ClassVar[str] = "media.uploaded.v1"
    producer: ClassVar[str] = "media"

    media_id: uuid.UUID
    owner_id: uuid.UUID
    portfolio_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    content_type: str
    size_bytes: int = Field(ge=0)
    object_key: str
    checksum_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uploaded_at: AwareDatetime


class MediaProcessedV1(EventData):
    """All variants of an upload are stored."""

    event_type: ClassVar[str] = "media.processed.v1"
    producer: ClassVar[str] = "media"

    media_id: uuid.UUID
    owner_id: uuid.UUID
    portfolio_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    variants: list[MediaVariant]
    processed_at: AwareDatetime


class MediaFailedV1(EventData):
    """An upload could not be processed (not an image, too large, corrupt)."""

    event_type: ClassVar[str] = "media.failed.v1"
    producer: ClassVar[str] = "media"

    media_id: uuid.UUID
    owner_id: uuid.UUID
    portfolio_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    reason: str
    failed_at: AwareDatetime
