"""Writing documents to the PostgreSQL index: only what is newer than what a table holds.
Shared by the index and its rebuild (which writes the same way into a table of its own)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from search import highlight
from search.adapters import postgres_sql as sql
from search.index import (
    SearchDocument,
    SearchItem,
)


def document_params(docs: Sequence[SearchDocument]) -> dict[str, list[Any]]:
    """Column arrays for `postgres_sql.write_many`, one entry per document."""
    strip = highlight.strip
    return {
        "ids": [d.portfolio_id for d in docs],
        "versions": [d.version for d in docs],
        "owner_ids": [d.owner_id for d in docs],
        "owner_names": [strip(d.owner_name) for d in docs],
        "titles": [strip(d.title) for d in docs],
        "descriptions": [strip(d.description) for d in docs],
        "items": [json.dumps([_item_json(i) for i in d.items]) for d in docs],
        "item_titles": [json.dumps([strip(i.title) for i in d.items]) for d in docs],
        "thumbnails": [d.thumbnail for d in docs],
        "updated_ats": [d.updated_at for d in docs],
        "b_texts": [" ".join([d.owner_name, *(i.title for i in d.items)]) for d in docs],
        "c_texts": [" ".join([d.description, *(i.description for i in d.items)]) for d in docs],
    }


def _item_json(item: SearchItem) -> dict[str, Any]:
    return {
        "item_id": str(item.item_id),
        "title": highlight.strip(item.title),
        "description": highlight.strip(item.description),
        "thumbnail": item.thumbnail,
    }


def newest_per_id(docs: Iterable[SearchDocument]) -> list[SearchDocument]:
    """One document per id, the highest version (one statement cannot update a row twice)."""
    newest: dict[UUID, SearchDocument] = {}
    for doc in docs:
        held = newest.get(doc.portfolio_id)
        if held is None or held.version < doc.version:
            newest[doc.portfolio_id] = doc
    return list(newest.values())


async def write(conn: AsyncConnection, table: str, docs: Iterable[SearchDocument]) -> int:
    """Write the documents that are newer than what `table` holds; returns how many were."""
    batch = newest_per_id(docs)
    if not batch:
        return 0
    result = await conn.execute(text(sql.write_many(table)), document_params(batch))
    return len(result.all())
