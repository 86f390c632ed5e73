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
    # No LIMIT here: with one, the planner costs a sequential scan as stopping after COUNT_CAP
    # rows, and for a word with fewer matches it reads the whole table (50+ ms at 100,000).
    counted = f"SELECT count(*) FROM ({statement}) m"
    return min(int((await conn.execute(text(counted), params)).scalar_one()), sql.COUNT_CAP)


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
    statement = sql.page(table, conditions, first=tier, owner=owner, after=after is not None)
    page_params = params | {"fetch": query.limit + 1}
    if after is not None:
        page_params |= {"updated_at": after[0], "after_id": after[1]}
    if words:
        page_params |= {
            "title_opts": sql.TITLE_HEADLINE,
            "description_opts": sql.DESCRIPTION_HEADLINE,
        }
    rows = (await conn.execute(text(statement), page_params)).all()
    page = rows[: query.limit]
    if total is None:  # a first page: complete, or the start of more
        if len(rows) <= query.limit:
            total = len(rows)
        else:
            statement = sql.matches(table, text_match=bool(words), owner=owner)
            total = await estimate_total(conn, statement, params)
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        position = {
            "t": last.tier,
            "u": last.updated_at.isoformat(),
            "id": str(last.portfolio_id),
            "n": total,
        }
        next_cursor = cursor.encode(query, position)
    hits = [_hit(r, len(conditions)) for r in page]
    return SearchPage(hits, next_cursor, max(total, len(page)))


def _hit(row: Any, tiers: int) -> SearchHit:
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
        row.updated_at,
        # The bucket as a score in (0, 1]: 1 for every word in the title as typed.
        1.0 - (row.tier - 1) / tiers,
        marks,
    )
