"""Events published by the search service."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime

from events.envelope import EventData


class SearchIndexedV1(EventData):
    """A document reached the search index (optional: published only once a consumer binds it)."""

    event_type: ClassVar[str] = "search.indexed.v1"
    producer: ClassVar[str] = "search"

    document_id: uuid.UUID
    kind: Literal["portfolio", "item"]
    version: int
    indexed_at: AwareDatetime
