"""The PostgreSQL index's tables, for the search service's Alembic migration and for tests.

Three tsvectors per document, nested: `v_title` (the title), `v_head` (title, owner name and
item titles) and `vector` (everything, weighted title A, owner and item titles B, descriptions
C). Relevance is the narrowest of them that matches (as Meilisearch's `attribute` rule buckets
by field), so each bucket is one indexed query ordered by recency; see `postgres_sql`.

Text search configuration `search_simple`: the `simple` parser and dictionary (no stemming, no
stop words: portfolios are written in many languages, and Meilisearch neither stems nor drops
words by default, so both backends find the same words) behind `unaccent`, so "cafe" finds
"Café" as it does on Meilisearch. Weights: title A; owner name and item titles B; descriptions C.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

CONFIG = "search_simple"
DOCUMENTS = "search_documents"
WORDS = "search_words"
MIN_WORD_LENGTH = 4
"""Shorter words never take part in a typo expansion (a 5-letter query word is one deletion
away from a 4-letter word at most), so the word list keeps only these."""

EXTENSIONS_DDL: tuple[str, ...] = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    # No IF NOT EXISTS for text search configurations: the DO block makes it idempotent.
    f"""
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}') THEN
        CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple);
        ALTER TEXT SEARCH CONFIGURATION {CONFIG}
          ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
      END IF;
    END $$
    """,
)
"""Run before `metadata.create_all` (the migration's first step); pg_trgm and unaccent ship with
PostgreSQL's contrib package and are trusted extensions (no superuser needed) since 13."""

metadata = MetaData()

_GIN = {"fastupdate": "off"}
"""No pending list: with it, every search scans the entries written since the last flush
(measured at 100,000 documents after 3,000 upserts: two-word p95 13 ms -> 40 ms); without it,
an upsert costs about 7% more."""


def documents_table(meta: MetaData, name: str = DOCUMENTS) -> Table:
    """The documents table; a rebuild creates a copy under another name and renames it in."""
    return Table(
        name,
        meta,
        Column("portfolio_id", UUID(as_uuid=True), primary_key=True),
        Column("version", BigInteger, nullable=False),
        Column("deleted", Boolean, nullable=False, server_default=text("false")),
        Column("owner_id", UUID(as_uuid=True)),
        Column("owner_name", Text, nullable=False, server_default=""),
        Column("title", Text, nullable=False, server_default=""),
        Column("description", Text, nullable=False, server_default=""),
        Column("item_titles", ARRAY(Text), nullable=False, server_default=text("'{}'")),
        Column("items", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("thumbnail", Text),
        Column("updated_at", DateTime(timezone=True)),
        Column("v_title", TSVECTOR),
        Column("v_head", TSVECTOR),
        Column("vector", TSVECTOR),
        # When this row was last written: a rebuild merges in the rows written after it began.
        Column(
            "indexed_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.clock_timestamp(),
        ),
        Index(f"ix_{name}_vector", "vector", postgresql_using="gin", postgresql_with=_GIN),
        Index(f"ix_{name}_head", "v_head", postgresql_using="gin", postgresql_with=_GIN),
        Index(f"ix_{name}_title", "v_title", postgresql_using="gin", postgresql_with=_GIN),
        Index(
            f"ix_{name}_recent",
            text("updated_at DESC"),
            text("portfolio_id DESC"),
            postgresql_where=text("NOT deleted"),
        ),
        Index(
            f"ix_{name}_owner",
            "owner_id",
            text("updated_at DESC"),
            text("portfolio_id DESC"),
            postgresql_where=text("NOT deleted"),
        ),
    )


documents = documents_table(metadata)

words = Table(
    WORDS,
    metadata,
    Column("word", Text, primary_key=True),
    Index(
        f"ix_{WORDS}_trgm",
        "word",
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
        postgresql_with=_GIN,
    ),
)
"""Every distinct lexeme of 4+ letters ever indexed, for typo expansion as PostgreSQL's pg_trgm
documentation suggests; it only grows (a word no document has any more costs one useless
alternative in a query), and a rebuild adds the words of what it loads."""

# A typo keeps the first letter and changes the length by one at most: this narrows the
# candidates to a few hundred rows even where the trigram GIN lookup is not selective (a small
# vocabulary, or low similarity thresholds that match on the leading trigrams alone).
Index("ix_search_words_shape", func.left(words.c.word, 1), func.length(words.c.word))


async def install(conn: AsyncConnection) -> None:
    """Extensions, configuration and tables: what the migration does, for tests and benchmarks."""
    for statement in EXTENSIONS_DDL:
        await conn.execute(text(statement))
    await conn.run_sync(metadata.create_all)
