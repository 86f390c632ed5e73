"""How documents, settings and hits look on Meilisearch's side of the wire."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from uuid import UUID

from search import highlight
from search.index import SearchDocument, SearchHit, SearchItem

SETTINGS: dict[str, Any] = {
    # Order is relevance: the `attribute` rule ranks a title match above a description match.
    "searchableAttributes": [
        "title",
        "owner_name",
        "items.title",
        "description",
        "items.description",
    ],
    "filterableAttributes": ["id", "owner_id", "deleted", "indexed_at_ms"],
    "sortableAttributes": ["updated_at_ms"],
    "rankingRules": [
        "words",
        "typo",
        "proximity",
        "attribute",
        "exactness",
        "updated_at_ms:desc",
    ],
    # One typo from 5 letters on; 255 (the largest value) keeps a second typo out of reach.
    "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 255}},
    # Whole words only, like the PostgreSQL backend (Meilisearch >= 1.12).
    "prefixSearch": "disabled",
    "pagination": {"maxTotalHits": 1000},
}

HIGHLIGHTED = ["title", "description", "items.title"]


def now_ms() -> int:
    return int(time.time() * 1000)


def to_meilisearch(doc: SearchDocument) -> dict[str, Any]:
    strip = highlight.strip
    return {
        "id": str(doc.portfolio_id),
        "owner_id": str(doc.owner_id),
        "owner_name": strip(doc.owner_name),
        "title": strip(doc.title),
        "description": strip(doc.description),
        "items": [
            {
                "item_id": str(i.item_id),
                "title": strip(i.title),
                "description": strip(i.description),
                "thumbnail": i.thumbnail,
            }
            for i in doc.items
        ],
        "thumbnail": doc.thumbnail,
        "updated_at": doc.updated_at.isoformat(),
        "updated_at_ms": int(doc.updated_at.timestamp() * 1000),
        "version": doc.version,
        "deleted": False,
        "indexed_at_ms": now_ms(),
    }


def tombstone(portfolio_id: UUID, version: int) -> dict[str, Any]:
    """What a delete leaves: the version, so an older upsert cannot bring the content back."""
    return {
        "id": str(portfolio_id),
        "version": version,
        "deleted": True,
        "owner_id": None,
        "owner_name": "",
        "title": "",
        "description": "",
        "items": [],
        "thumbnail": None,
        "updated_at": None,
        "updated_at_ms": 0,
        "indexed_at_ms": now_ms(),
    }


def from_meilisearch(raw: dict[str, Any]) -> SearchDocument:
    return SearchDocument(
        portfolio_id=UUID(raw["id"]),
        owner_id=UUID(raw["owner_id"]),
        owner_name=raw["owner_name"],
        title=raw["title"],
        description=raw["description"],
        items=tuple(
            SearchItem(UUID(i["item_id"]), i["title"], i["description"], i["thumbnail"])
            for i in raw["items"]
        ),
        thumbnail=raw["thumbnail"],
        updated_at=datetime.fromisoformat(raw["updated_at"]),
        version=int(raw["version"]),
    )


def to_hit(raw: dict[str, Any]) -> SearchHit:
    formatted = raw.get("_formatted") or {}
    marks: dict[str, str] = {}
    for name in ("title", "description"):
        value = formatted.get(name)
        rendered = highlight.render(value if isinstance(value, str) else None)
        if rendered is not None:
            marks[name] = rendered
    for item in formatted.get("items") or ():
        rendered = highlight.render(item.get("title") if isinstance(item, dict) else None)
        if rendered is not None:
            marks["items"] = rendered
            break
    return SearchHit(
        portfolio_id=UUID(raw["id"]),
        title=raw["title"],
        owner_name=raw["owner_name"],
        thumbnail=raw.get("thumbnail"),
        updated_at=datetime.fromisoformat(raw["updated_at"]),
        score=float(raw.get("_rankingScore", 0.0)),
        highlights=marks,
    )


def search_params(
    *, owner_id: UUID | None, offset: int, limit: int, browse: bool
) -> dict[str, Any]:
    filters = ["deleted = false"]
    if owner_id is not None:
        filters.append(f'owner_id = "{owner_id}"')
    params: dict[str, Any] = {
        "offset": offset,
        "limit": limit,
        "filter": filters,
        "matchingStrategy": "all",
        "showRankingScore": True,
        "attributesToHighlight": HIGHLIGHTED,
        "attributesToCrop": ["description"],
        "cropLength": 30,
        "highlightPreTag": highlight.PRE,
        "highlightPostTag": highlight.POST,
    }
    if browse:
        params["sort"] = ["updated_at_ms:desc"]
    return params
