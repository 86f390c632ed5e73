"""What only the PostgreSQL backend has: its typo expansion, schema checks, tombstone purge."""

from __future__ import annotations

import asyncio
import string
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from search.adapters.postgres import (
    PostgresIndexSettings,
    PostgresSearchIndex,
    create_engine,
)
from search.adapters.postgres_search import expand
from search.index import IndexRejected, SearchQuery
from search.testing import document

WORDS = ["paint", "photo", "letter", "design", "banana", "gallery", "portfolio", "architecture"]


def one_typo_variants(word: str) -> set[str]:
    """Every variant one edit away that keeps the first letter (what must be tolerated)."""
    out: set[str] = set()
    for i in range(1, len(word)):
        out.add(word[:i] + word[i + 1 :])
        out |= {word[:i] + c + word[i + 1 :] for c in string.ascii_lowercase}
        if i < len(word) - 1:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    for i in range(1, len(word) + 1):
        out |= {word[:i] + c + word[i:] for c in string.ascii_lowercase}
    out.discard(word)
    return {v for v in out if len(v) >= 5}


async def test_every_tolerated_typo_expands_to_the_indexed_word(
    pg_index: PostgresSearchIndex,
) -> None:
    await pg_index.upsert(document(" ".join(WORDS)))
    async with pg_index.transaction() as conn:
        for word in WORDS:
            variants = sorted(one_typo_variants(word))
            found = await expand(conn, " ".join(variants))
            missed = [typed for typed, near in found if typed in variants and word not in near]
            assert missed == [], f"{word}: no expansion for {missed[:10]}"


async def test_concurrent_writers_of_new_words_do_not_deadlock(
    pg_index: PostgresSearchIndex,
) -> None:
    vocabulary = [f"word{c}{d}" for c in string.ascii_lowercase for d in string.ascii_lowercase]
    docs = [
        document(" ".join(vocabulary[n::7] if n % 2 else reversed(vocabulary[n::7])))
        for n in range(14)
    ]
    assert all(await asyncio.gather(*(pg_index.upsert(d) for d in docs)))
    page = await pg_index.search(SearchQuery("wordaa"))
    assert page.estimated_total >= 1


async def test_ensure_refuses_a_database_without_the_migration(fresh_database: str) -> None:
    engine = create_engine(fresh_database, PostgresIndexSettings())
    try:
        with pytest.raises(IndexRejected, match="migrations"):
            await PostgresSearchIndex(engine).ensure()
    finally:
        await engine.dispose()


async def test_purging_old_tombstones_keeps_recent_ones(pg_index: PostgresSearchIndex) -> None:
    old, recent = document("Old"), document("Recent")
    for doc in (old, recent):
        await pg_index.upsert(doc)
        await pg_index.delete(doc.portfolio_id, 2)
    async with pg_index.transaction() as conn:
        from sqlalchemy import text

        await conn.execute(
            text(
                "UPDATE search_documents SET indexed_at = now() - interval '40 days' "
                "WHERE portfolio_id = :id"
            ),
            {"id": old.portfolio_id},
        )
    assert await pg_index.purge_tombstones(datetime.now(UTC) - timedelta(days=30)) == 1
    # The recent tombstone still refuses a late write; the purged one no longer can.
    assert await pg_index.upsert(recent) is False
    assert await pg_index.upsert(old) is True


async def test_a_query_of_only_punctuation_finds_nothing(pg_index: PostgresSearchIndex) -> None:
    await pg_index.upsert(document("Anything"))
    page = await pg_index.search(SearchQuery("?!  --"))
    assert (page.hits, page.estimated_total, page.next_cursor) == ([], 0, None)


async def test_the_schema_matches_the_metadata_after_a_rebuild(
    pg_index: PostgresSearchIndex, pg_engine: AsyncEngine
) -> None:
    await pg_index.upsert(document("Before"))
    rebuild = await pg_index.begin_rebuild()
    await rebuild.add_many([document("After")])
    await rebuild.commit()
    async with pg_engine.connect() as conn:
        from sqlalchemy import text

        names = (
            (
                await conn.execute(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE tablename = 'search_documents' "
                        "ORDER BY 1"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert names == [
        "ix_search_documents_head",
        "ix_search_documents_owner",
        "ix_search_documents_recent",
        "ix_search_documents_title",
        "ix_search_documents_vector",
        "search_documents_pkey",
    ]
