"""Events published by the media service.

Each carries the media record's `version`: an upload is version 1 and each processing outcome
is a later one, so a consumer keeps the newest report and drops a stale or repeated one.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.envelope import EventData


class MediaVariant(BaseModel):
    """One resized rendition of an uploaded image."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(description="`<width>w.<format>`, e.g. `800w.webp`.")
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    content_type: str
    size_bytes: int = Field(ge=0)
    object_key: str


class _MediaEvent(EventData):
    producer: ClassVar[str] = "media"

    media_id: uuid.UUID
    owner_id: uuid.UUID
    portfolio_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    version: int = Field(ge=1, description="The media record's version after this change.")


class MediaUploadedV1(_MediaEvent):
    """An original was stored and awaits processing (the media worker consumes this)."""

    event_type: ClassVar[str] = "media.uploaded.v1"

    content_type: str
    size_bytes: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    object_key: str
    checksum_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uploaded_at: AwareDatetime


class MediaProcessedV1(_MediaEvent):
    """All variants of an upload are stored."""

    event_type: ClassVar[str] = "media.processed.v1"

    variants: list[MediaVariant]
    thumbnail_key: str = Field(description="The object key of the smallest variant.")
    processed_at: AwareDatetime


class MediaFailedV1(_MediaEvent):
    """An upload could not be processed (corrupt, or storage gave up)."""

    event_type: ClassVar[str] = "media.failed.v1"

    reason: str
    failed_at: AwareDatetime
