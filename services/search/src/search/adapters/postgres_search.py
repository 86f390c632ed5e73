"""Searching the PostgreSQL index: typo expansion, the bucketed page query, hits."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from search import cursor, highlight
from search.adapters import postgres_sql as sql
from search.index import SearchHit, SearchPage, SearchQuery
from search.typos import MIN_TYPO_LENGTH, one_typo_apart


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


async def run_search(
    conn: AsyncConnection, table: str, query: SearchQuery, position: dict[str, Any] | None
) -> SearchPage:
    words = await expand(conn, query.q) if query.q.strip() else []
    if query.q.strip() and not words:
        # Words the index would never store (only punctuation): nothing can match them.
        return SearchPage([], None, 0)
    params: dict[str, Any] = {"fetch": query.limit + 1, "owner_id": query.owner_id}
    after_tier = None
    if position is not None:
        after_tier = int(position["t"])
        params |= {
            "updated_at": datetime.fromisoformat(position["u"]),
            "after_id": UUID(position["id"]),
            "total": int(position["n"]),
        }
    owner, counted = query.owner_id is not None, position is not None
    if words:
        exact, full = build_tsqueries(words)
        params |= {
            "e": exact,
            "f": full,
            "title_opts": sql.TITLE_HEADLINE,
            "description_opts": sql.DESCRIPTION_HEADLINE,
        }
        typo = any(near for _, near in words)
        statement = sql.text_search(
            table, typo=typo, owner=owner, after_tier=after_tier, counted=counted
        )
    else:
        statement = sql.browse(table, owner=owner, after=after_tier is not None, counted=counted)
    rows = (await conn.execute(text(statement), params)).all()
    total = int(rows[0].total) if rows else 0
    page = [r for r in rows if r.portfolio_id is not None][: query.limit]
    next_cursor = None
    if len([r for r in rows if r.portfolio_id is not None]) > query.limit:
        last = page[-1]
        next_cursor = cursor.encode(
            query,
            {
                "t": last.tier,
                "u": last.updated_at.isoformat(),
                "id": str(last.portfolio_id),
                "n": total,
            },
        )
    return SearchPage([_hit(r) for r in page], next_cursor, total)


def _hit(row: Any) -> SearchHit:
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
        1.0 - (row.tier - 1) / 6,
        marks,
    )
