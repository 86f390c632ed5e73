"""The SQL of the PostgreSQL index, one statement per operation, parameterised by table name.

Table names are never user input: they are the live name or a rebuild's generated one.
"""

from __future__ import annotations

from search.adapters.postgres_schema import CONFIG, MIN_WORD_LENGTH, WORDS
from search.highlight import POST, PRE

TYPO_SIMILARITY = 0.18
"""pg_trgm similarity under which no one-typo variant of a 5+ letter word falls: an adjacent
transposition in the middle of a 5-letter word shares 2 of 10 trigrams (0.2); the margin keeps
float rounding at the boundary from losing it. Candidates are then checked exactly in Python."""

TIERS: tuple[tuple[str, str | None], ...] = (
    ("v_title", None),
    ("v_head", "v_title"),
    ("vector", "v_head"),
)
"""Relevance buckets, best first: every word in the title; else in the title, owner name or item
titles; else anywhere. Then the same three for matches that need a typo, so an exact match
always ranks above a typo match (Meilisearch's `typo` rule comes before `attribute`). Within a
bucket, newer first. Each bucket is a query that PostgreSQL can stop early: a GIN bitmap for a
rare word, a backward scan of the recency index for a common one, instead of ranking every
match (ts_rank over 14,000 matches of a common word took 80+ ms at 100,000 documents)."""

COUNT_CAP = 1000
"""Totals are exact up to this many matches and reported as this many beyond, as Meilisearch's
`estimatedTotalHits` is capped by `maxTotalHits`: counting every match of a common word would
cost what the buckets save."""

SESSION = (
    "SELECT set_config('statement_timeout', :statement_timeout, true), "
    "set_config('pg_trgm.similarity_threshold', :similarity, true), "
    # A generic plan would estimate every word alike; a rare and a common word need opposite
    # plans (GIN bitmap vs. recency scan), so each search is planned with its own values.
    "set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)

EXPAND = f"""
WITH q AS (
  SELECT unnest(tsvector_to_array(to_tsvector('{CONFIG}', CAST(:q AS text)))) AS w
)
SELECT q.w,
       ARRAY(
         SELECT s.word FROM {WORDS} s
         WHERE length(q.w) >= :min_typo_length
           AND s.word % q.w
           AND left(s.word, 1) = left(q.w, 1)
           AND length(s.word) BETWEEN length(q.w) - 1 AND length(q.w) + 1
           AND s.word <> q.w
       ) AS near
FROM q
"""
"""The query's words as the index normalises them (lower case, unaccented), each with the
indexed words that could be one typo away (trigram GIN lookup; exact check follows)."""

_CONTENT = (
    "owner_id, owner_name, title, description, item_titles, items, thumbnail, updated_at, "
    "v_title, v_head, vector"
)


def write_many(table: str) -> str:
    """Insert or replace many documents, each only over an older version (or tombstone).

    Returns the ids written. The words of written documents join the typo word list, inserted
    in sorted order so two concurrent writers cannot deadlock on each other's new words.
    """
    updates = ", ".join(f"{c} = excluded.{c}" for c in _CONTENT.split(", "))
    return f"""
WITH incoming AS (
  SELECT * FROM unnest(
    CAST(:ids AS uuid[]), CAST(:versions AS bigint[]), CAST(:owner_ids AS uuid[]),
    CAST(:owner_names AS text[]), CAST(:titles AS text[]), CAST(:descriptions AS text[]),
    CAST(:items AS text[]), CAST(:item_titles AS text[]), CAST(:thumbnails AS text[]),
    CAST(:updated_ats AS timestamptz[]), CAST(:b_texts AS text[]), CAST(:c_texts AS text[])
  ) AS i(portfolio_id, version, owner_id, owner_name, title, description, items, item_titles,
         thumbnail, updated_at, b_text, c_text)
), written AS (
  INSERT INTO {table} AS d (portfolio_id, version, deleted, {_CONTENT}, indexed_at)
  SELECT i.portfolio_id, i.version, false, i.owner_id, i.owner_name, i.title, i.description,
         ARRAY(SELECT jsonb_array_elements_text(CAST(i.item_titles AS jsonb))),
         CAST(i.items AS jsonb), i.thumbnail, i.updated_at,
         v.a, v.a || v.b, setweight(v.a, 'A') || setweight(v.b, 'B') || setweight(v.c, 'C'),
         clock_timestamp()
  FROM incoming i, LATERAL (
    SELECT to_tsvector('{CONFIG}', i.title) AS a, to_tsvector('{CONFIG}', i.b_text) AS b,
           to_tsvector('{CONFIG}', i.c_text) AS c
  ) v
  ON CONFLICT (portfolio_id) DO UPDATE
    SET version = excluded.version, deleted = false, {updates},
        indexed_at = excluded.indexed_at
    WHERE d.version < excluded.version
  RETURNING d.portfolio_id, d.vector
), new_words AS (
  INSERT INTO {WORDS} (word)
  SELECT DISTINCT w FROM written, unnest(tsvector_to_array(written.vector)) AS w
  WHERE length(w) >= {MIN_WORD_LENGTH}
  ORDER BY w
  ON CONFLICT DO NOTHING
)
SELECT portfolio_id FROM written
"""


def tombstone(table: str) -> str:
    return f"""
INSERT INTO {table} AS d (portfolio_id, version, deleted) VALUES (:id, :version, true)
ON CONFLICT (portfolio_id) DO UPDATE
  SET version = excluded.version, deleted = true, owner_id = NULL, owner_name = '',
      title = '', description = '', item_titles = '{{}}', items = '[]', thumbnail = NULL,
      updated_at = NULL, v_title = NULL, v_head = NULL, vector = NULL,
      indexed_at = clock_timestamp()
  WHERE d.version < excluded.version
RETURNING d.portfolio_id
"""


def _opts(**extra: str) -> str:
    # Sentinels, not <mark>: the text around them is HTML-escaped in Python afterwards.
    pairs = {"StartSel": PRE, "StopSel": POST, **extra}
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


TITLE_HEADLINE = _opts(HighlightAll="true")
DESCRIPTION_HEADLINE = _opts(MaxWords="30", MinWords="12", MaxFragments="2")

_HEADLINES = f"""
  ts_headline('{CONFIG}', d.title, CAST(:f AS tsquery), :title_opts) AS h_title,
  ts_headline('{CONFIG}', d.description, CAST(:f AS tsquery), :description_opts) AS h_description,
  ARRAY(
    SELECT ts_headline('{CONFIG}', t.title, CAST(:f AS tsquery), :title_opts)
    FROM unnest(d.item_titles) WITH ORDINALITY AS t(title, n) ORDER BY t.n
  ) AS h_items
"""
_NO_HEADLINES = "NULL AS h_title, NULL AS h_description, CAST(NULL AS text[]) AS h_items"


def page(table: str, conditions: list[str], *, first: int, owner: bool, after: bool) -> str:
    """The buckets from `first` on, best first, each newest first, in one statement.

    Without an ORDER BY over the UNION ALL, PostgreSQL's Append runs the buckets one after the
    other and the LIMIT stops it as soon as the page is full, so the later buckets are never
    scanned; parallel append (which could interleave them) is off for these transactions (see
    SESSION), and `n` keeps the order through the join. Headlines run on the page's rows only.
    """
    owner_filter = "AND owner_id = :owner_id" if owner else ""
    branches = []
    for tier, condition in enumerate(conditions, 1):
        if tier < first:
            continue
        keyset = (
            "AND (updated_at, portfolio_id) < (:updated_at, :after_id)"
            if after and tier == first
            else ""
        )
        branches.append(
            f"(SELECT {tier} AS tier, portfolio_id, updated_at FROM {table} "
            f"WHERE NOT deleted AND {condition} {owner_filter} {keyset} "
            "ORDER BY updated_at DESC, portfolio_id DESC LIMIT :fetch)"
        )
    union = "\n  UNION ALL ".join(branches)
    headlines = _NO_HEADLINES if conditions == ["true"] else _HEADLINES
    return f"""
WITH page AS MATERIALIZED (
  SELECT buckets.*, row_number() OVER () AS n FROM (
    SELECT * FROM (
  {union}
    ) unordered LIMIT :fetch
  ) buckets
)
SELECT p.n, p.tier, p.portfolio_id, p.updated_at, d.title, d.owner_name, d.thumbnail,
{headlines}
FROM page p JOIN {table} d USING (portfolio_id)
ORDER BY p.n
"""


def matches(table: str, *, text_match: bool, owner: bool) -> str:
    """Every live match, for counting or estimating the total."""
    match = "AND vector @@ CAST(:f AS tsquery)" if text_match else ""
    owner_filter = "AND owner_id = :owner_id" if owner else ""
    return f"SELECT 1 FROM {table} WHERE NOT deleted {match} {owner_filter}"


def tier_conditions(typo: bool) -> list[str]:
    """The WHERE clause of each relevance bucket, best first (see TIERS)."""
    exact = [
        f"{col} @@ CAST(:e AS tsquery)"
        + (f" AND NOT {inner} @@ CAST(:e AS tsquery)" if inner else "")
        for col, inner in TIERS
    ]
    if not typo:
        return exact
    # `vector @@ :near` (any near spelling) is implied by the rest; it is there for the planner,
    # which otherwise estimates "matches the full query but not the exact one" as common and
    # walks the recency index through most of the table to find the few typo matches.
    fuzzy = [
        f"{col} @@ CAST(:f AS tsquery)"
        + (f" AND NOT {inner} @@ CAST(:f AS tsquery)" if inner else "")
        + " AND vector @@ CAST(:near AS tsquery) AND NOT vector @@ CAST(:e AS tsquery)"
        for col, inner in TIERS
    ]
    return exact + fuzzy
