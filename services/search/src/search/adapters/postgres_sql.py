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

RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
"""ts_rank weights for D, C, B, A: title (A) outranks owner and item titles (B), which outrank
descriptions (C); one extra title occurrence can never be outweighed by repeated description
words, since ts_rank's per-word sum of repeats is bounded by the heaviest weight."""

EXACT_BONUS = 10
"""Added per query word matched as typed: an exact match outranks any typo match, as on
Meilisearch (whose `typo` rule comes before `attribute`)."""

SESSION = (
    "SELECT set_config('statement_timeout', :statement_timeout, true), "
    "set_config('pg_trgm.similarity_threshold', :similarity, true)"
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

_VECTOR = (
    f"setweight(to_tsvector('{CONFIG}', i.title), 'A')"
    f" || setweight(to_tsvector('{CONFIG}', i.b_text), 'B')"
    f" || setweight(to_tsvector('{CONFIG}', i.c_text), 'C')"
)

_CONTENT = (
    "owner_id, owner_name, title, description, item_titles, items, thumbnail, updated_at, vector"
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
         CAST(i.items AS jsonb), i.thumbnail, i.updated_at, {_VECTOR}, clock_timestamp()
  FROM incoming i
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
      updated_at = NULL, vector = NULL, indexed_at = clock_timestamp()
  WHERE d.version < excluded.version
RETURNING d.portfolio_id
"""


def _opts(**extra: str) -> str:
    # Sentinels, not <mark>: the text around them is HTML-escaped in Python afterwards.
    pairs = {"StartSel": PRE, "StopSel": POST, **extra}
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


TITLE_HEADLINE = _opts(HighlightAll="true")
DESCRIPTION_HEADLINE = _opts(MaxWords="30", MinWords="12", MaxFragments="2")

_PAGE_COLUMNS = f"""
  c.portfolio_id, c.updated_at, c.score, c.total, d.title, d.owner_name, d.thumbnail,
  ts_headline('{CONFIG}', d.title, c.tsq, :title_opts) AS h_title,
  ts_headline('{CONFIG}', d.description, c.tsq, :description_opts) AS h_description,
  ARRAY(
    SELECT ts_headline('{CONFIG}', t.title, c.tsq, :title_opts)
    FROM unnest(d.item_titles) WITH ORDINALITY AS t(title, n) ORDER BY t.n
  ) AS h_items
"""


def text_search(table: str, *, exact_words: int, owner: bool, after: bool) -> str:
    """Matches ranked (score, updated_at, id) descending; headlines only on the page's rows."""
    bonus = " + ".join(f"(vector @@ CAST(:exact{i} AS tsquery))::int" for i in range(exact_words))
    score = f"{EXACT_BONUS} * ({bonus}) + " if bonus else ""
    owner_filter = "AND owner_id = :owner_id" if owner else ""
    keyset = "WHERE (score, updated_at, portfolio_id) < (:score, :updated_at, :after_id)"
    return f"""
WITH query AS (SELECT CAST(:tsq AS tsquery) AS tsq),
hits AS (
  SELECT portfolio_id, updated_at, query.tsq,
         {score}ts_rank('{RANK_WEIGHTS}', vector, query.tsq)::float8 AS score
  FROM {table}, query
  WHERE vector @@ query.tsq {owner_filter}
),
counted AS (SELECT hits.*, count(*) OVER () AS total FROM hits)
SELECT {_PAGE_COLUMNS}
FROM (
  SELECT * FROM counted {keyset if after else ""}
  ORDER BY score DESC, updated_at DESC, portfolio_id DESC
  LIMIT :fetch
) c
JOIN {table} d USING (portfolio_id)
ORDER BY c.score DESC, c.updated_at DESC, c.portfolio_id DESC
"""


def browse(table: str, *, owner: bool, after: bool) -> str:
    """An empty query: every live document, newest first, on the (updated_at, id) index."""
    owner_filter = "AND owner_id = :owner_id" if owner else ""
    keyset = "AND (updated_at, portfolio_id) < (:updated_at, :after_id)" if after else ""
    return f"""
SELECT portfolio_id, updated_at, 0.0::float8 AS score,
       (SELECT count(*) FROM {table} WHERE NOT deleted {owner_filter}) AS total,
       title, owner_name, thumbnail,
       NULL AS h_title, NULL AS h_description, CAST(NULL AS text[]) AS h_items
FROM {table}
WHERE NOT deleted {owner_filter} {keyset}
ORDER BY updated_at DESC, portfolio_id DESC
LIMIT :fetch
"""
