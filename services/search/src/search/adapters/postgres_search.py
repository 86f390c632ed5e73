"""Searching the PostgreSQL index: typo expansion, the bucketed page query, hits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from search import cursor, highlight
from search.adapters import postgres_sql as sql
from search.index import SearchHit, SearchPage, SearchQuery
from search.typos import MIN_TYPO_LENGTH, one_typo_apart

ESTIMATE_FROM = 5 * sql.COUNT_CAP


def tsquery_literal(lexeme: str) -> str:
    """A lexeme quoted for tsquery input, taken literally (no dictionary runs on it again)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


async def expand(conn: AsyncConnection, q: str) -> list[tuple[str, list[str]]]:
    """The query's normalised words, each with the indexed words exactly one typo away."""
    rows = await conn.execute(text(sql.EXPAND), {"q": q, "min_typo_length": MIN_TYPO_LENGTH})
    return [(r.w, sorted(n for n in r.near if one_typo_apart(r.w, n))) for r in rows]


def build_tsqueries(words: list[tuple[str, list[str]]]) -> tuple[str, str]:
    """The exact query (every word as typed) and the full one (each word or its near spellings)."""
    exact = " & ".join(tsquery_literal(word) for word, _ in words)
    full = " & ".join(
        "(" + " | ".join(tsquery_literal(w) for w in [word, *near]) + ")"
        if near
        else tsquery_literal(word)
        for word, near in words
    )
    return exact, full


async def estimate_total(conn: AsyncConnection, statement: str, params: dict[str, Any]) -> int:
    """Exact up to COUNT_CAP, except where the planner expects far more matches (a common word,
    whose estimate from the column statistics is good): counting thousands of matches would
    cost what the buckets save. Rare words are counted, since the planner guesses them."""
    plan = (await conn.execute(text(f"EXPLAIN (FORMAT JSON) {statement}"), params)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    if int(plan[0]["Plan"]["Plan Rows"]) >= ESTIMATE_FROM:
        return sql.COUNT_CAP
    capped = f"SELECT count(*) FROM ({statement} LIMIT {sql.COUNT_CAP}) m"
    return int((await conn.execute(text(capped), params)).scalar_one())


async def run_search(
    conn: AsyncConnection, table: str, query: SearchQuery, position: dict[str, Any] | None
) -> SearchPage:
    words = await expand(conn, query.q) if query.q.strip() else []
    if query.q.strip() and not words:
        # Words the index would never store (only punctuation): nothing can match them.
        return SearchPage([], None, 0)
    owner = query.owner_id is not None
    params: dict[str, Any] = {"owner_id": query.owner_id}
    if words:
        exact, full = build_tsqueries(words)
        near = " | ".join(tsquery_literal(n) for _, ns in words for n in ns)
        params |= {"e": exact, "f": full, "near": near or exact}
        conditions = sql.tier_conditions(typo=bool(near))
    else:
        conditions = ["true"]  # an empty query: one bucket, everything, newest first
    total: int | None = None
    tier, after = 1, None
    if position is not None:
        total, tier = int(position["n"]), int(position["t"])
        after = (datetime.fromisoformat(position["u"]), UUID(position["id"]))
    found: list[tuple[int, UUID, datetime]] = []
    # Buckets one at a time, best first, until the page (and one more row) is full.
    while tier <= len(conditions) and len(found) <= query.limit:
        bucket_params = params | {"fetch": query.limit + 1 - len(found)}
        if after is not None:
            bucket_params |= {"updated_at": after[0], "after_id": after[1]}
        statement = sql.bucket(table, conditions[tier - 1], owner=owner, after=after is not None)
        rows = await conn.execute(text(statement), bucket_params)
        found += [(tier, r.portfolio_id, r.updated_at) for r in rows]
        tier, after = tier + 1, None
    page = found[: query.limit]
    next_cursor = None
    if total is None:  # a first page: complete, or the start of more
        if len(found) <= query.limit:
            total = len(found)
        else:
            statement = sql.matches(table, text_match=bool(words), owner=owner)
            total = await estimate_total(conn, statement, params)
    if len(found) > query.limit:
        last_tier, last_id, last_at = page[-1]
        position = {"t": last_tier, "u": last_at.isoformat(), "id": str(last_id), "n": total}
        next_cursor = cursor.encode(query, position)
    details = await page_rows(conn, table, [p[1] for p in page], params if words else None)
    hits = [_hit(details[pid], t, at, len(conditions)) for t, pid, at in page]
    return SearchPage(hits, next_cursor, max(total, len(page)))


async def page_rows(
    conn: AsyncConnection, table: str, ids: list[UUID], params: dict[str, Any] | None
) -> dict[UUID, Any]:
    if not ids:
        return {}
    if params is None:
        rows = await conn.execute(text(sql.ROWS.format(table=table)), {"ids": ids})
    else:
        options = {"title_opts": sql.TITLE_HEADLINE, "description_opts": sql.DESCRIPTION_HEADLINE}
        statement = sql.HEADLINES.format(table=table)
        rows = await conn.execute(text(statement), {"ids": ids, "f": params["f"]} | options)
    return {r.portfolio_id: r for r in rows}


def _hit(row: Any, tier: int, updated_at: datetime, tiers: int) -> SearchHit:
    marks: dict[str, str] = {}
    for name, value in (("title", row.h_title), ("description", row.h_description)):
        rendered = highlight.render(value)
        if rendered is not None:
            marks[name] = rendered
    for item_title in row.h_items or ():
        rendered = highlight.render(item_title)
        if rendered is not None:
            marks["items"] = rendered
            break
    return SearchHit(
        row.portfolio_id,
        row.title,
        row.owner_name,
        row.thumbnail,
        updated_at,
        # The bucket as a score in (0, 1]: 1 for every word in the title as typed.
        1.0 - (tier - 1) / tiers,
        marks,
    )
