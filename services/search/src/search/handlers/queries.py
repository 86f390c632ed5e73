"""Searching: anonymous, rate-limited per client address; 503 while the index is down."""

from __future__ import annotations

import uuid

from search.config import Settings
from search.errors import IndexDown, QueryRefused
from search.index import InvalidQuery, SearchIndex, SearchQuery, SearchUnavailable
from search.models import HitPublic, ResultsPublic


async def search_portfolios(
    q: str,
    owner_id: uuid.UUID | None,
    cursor: str | None,
    limit: int | None,
    *,
    index: SearchIndex,
    settings: Settings,
) -> ResultsPublic:
    try:
        query = SearchQuery(
            q=q, owner_id=owner_id, cursor=cursor, limit=limit or settings.page_size
        )
        page = await index.search(query)
    except InvalidQuery as exc:
        raise QueryRefused(str(exc)) from exc
    except SearchUnavailable as exc:
        raise IndexDown(retry_after_s=max(1, round(exc.retry_after_s))) from exc
    return ResultsPublic(
        hits=[
            HitPublic(
                portfolio_id=hit.portfolio_id,
                title=hit.title,
                owner_name=hit.owner_name,
                thumbnail=hit.thumbnail,
                updated_at=hit.updated_at,
                highlights=hit.highlights,
            )
            for hit in page.hits
        ],
        next_cursor=page.next_cursor,
        estimated_total=page.estimated_total,
    )
