"""Builders for search documents, shared by the conformance suite, tests and the benchmark."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import SecretStr

from events.settings import BusSettings
from search.config import Settings
from search.index import SearchDocument, SearchItem

if TYPE_CHECKING:
    from devkit.platform import LocalRun

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def document(
    title: str = "Untitled portfolio",
    description: str = "",
    *,
    portfolio_id: UUID | None = None,
    owner_id: UUID | None = None,
    owner_name: str = "Ada Lovelace",
    items: Sequence[SearchItem | str] = (),
    version: int = 1,
    updated_at: datetime | None = None,
    age_minutes: int = 0,
) -> SearchDocument:
    """A valid document; `items` may be given as titles; `age_minutes` ages `updated_at`."""
    built: tuple[SearchItem, ...] = tuple(
        SearchItem(uuid.uuid4(), i, "", f"thumbs/{n}.webp") if isinstance(i, str) else i
        for n, i in enumerate(items)
    )
    return SearchDocument(
        portfolio_id=portfolio_id or uuid.uuid4(),
        owner_id=owner_id or uuid.uuid4(),
        owner_name=owner_name,
        title=title,
        description=description,
        items=built,
        thumbnail=built[0].thumbnail if built else None,
        updated_at=updated_at or EPOCH - timedelta(minutes=age_minutes),
        version=version,
    )


def revised(doc: SearchDocument, **changes: Any) -> SearchDocument:
    """The same portfolio at the next version (or the given one), with fields changed."""
    return dataclasses.replace(doc, **{"version": doc.version + 1, **changes})


def settings_for(database_url: str, bus: BusSettings | None = None, **overrides: Any) -> Settings:
    """Test settings: a real database holding the projection and the PostgreSQL index."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": SecretStr(database_url),
        "log_json": False,
    }
    if bus is not None:
        values["bus"] = bus
    values.update(overrides)
    return Settings(**values)


def local_env(run: LocalRun) -> dict[str, str]:
    """Search's own settings for a local run: Meilisearch where the provider runs one."""
    url = run.platform.run.meilisearch_url if run.platform.run else None
    if not url:
        return {"INDEX__BACKEND": "postgres"}
    return {"INDEX__BACKEND": "meilisearch", "INDEX__MEILISEARCH_URL": url}
