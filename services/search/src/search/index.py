"""The port every search backend implements: documents in, ranked pages out.

Query semantics every backend honours (held by `search.conformance`):
- whole words, all of them required (no prefix matching: the API is a submitted search, and the
  same words must find the same portfolios on every backend);
- one typo (insertion, deletion, substitution or adjacent transposition) in a word of 5+ letters
  still matches; shorter words must match exactly; a typo on the first letter is not tolerated
  (Meilisearch counts it as two typos, so neither backend accepts it);
- relevance first (a title match ranks above an owner or item-title match, which ranks above a
  description match; an exact match above a typo match), then newer `updated_at` first;
- an empty `q` lists every document, newest first (with the owner filter: an owner's portfolios);
- a cursor continues exactly where its page ended while the index is unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

MAX_LIMIT = 50
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10


class SearchError(Exception):
    """Anything a search backend reports."""


class SearchUnavailable(SearchError):
    """The backend is down, unreachable or too slow: retry later (the API answers 503)."""

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidQuery(SearchError):
    """The query cannot be run as given (bad limit, cursor or text): the caller's mistake."""


class InvalidDocument(SearchError):
    """A document the index refuses (no version, naive timestamp): nothing was written."""


class IndexRejected(SearchError):
    """The backend refused a write or a settings change for good: retrying repeats the refusal."""


@dataclass(frozen=True)
class SearchItem:
    item_id: UUID
    title: str
    description: str = ""
    thumbnail: str | None = None
    """A thumbnail URL or storage key, as the service renders it."""


@dataclass(frozen=True)
class SearchDocument:
    """One public portfolio as the search service renders it from its projection."""

    portfolio_id: UUID
    owner_id: UUID
    owner_name: str
    title: str
    description: str
    items: tuple[SearchItem, ...]
    thumbnail: str | None
    """The first ready item's thumbnail, or None."""
    updated_at: datetime
    version: int
    """Monotonic per portfolio: a write whose version is not above the stored one is ignored."""

    def __post_init__(self) -> None:
        if self.version < 0:
            raise InvalidDocument(f"version must be >= 0, got {self.version}")
        if self.updated_at.tzinfo is None:
            raise InvalidDocument("updated_at must carry a timezone")


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    owner_id: UUID | None = None
    limit: int = 20
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if len(self.q) > MAX_QUERY_CHARS:
            raise InvalidQuery(f"q is longer than {MAX_QUERY_CHARS} characters")
        if len(self.q.split()) > MAX_QUERY_WORDS:
            raise InvalidQuery(f"q has more than {MAX_QUERY_WORDS} words")
        if "\x00" in self.q:
            raise InvalidQuery("q contains a NUL character")


@dataclass(frozen=True)
class SearchHit:
    portfolio_id: UUID
    title: str
    owner_name: str
    thumbnail: str | None
    updated_at: datetime
    score: float
    """Backend-specific scale; only the order of hits is comparable across backends."""
    highlights: dict[str, str] = field(default_factory=dict)
    """Per matched field (title, description, items), HTML-escaped text with <mark> around
    the matched words; fields without a match are absent."""


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None
    estimated_total: int


ProgressCallback = Callable[[int], Awaitable[None] | None]
"""Called with the number of documents loaded so far into a rebuild."""


class Rebuild(Protocol):
    """A fresh index being filled beside the live one; the live one answers until `commit`."""

    async def add_many(self, docs: Iterable[SearchDocument]) -> int:
        """Load documents (version rule applies); returns how many were written."""
        ...

    async def commit(self) -> None:
        """Swap the new index in atomically, keeping live writes made since the rebuild began."""
        ...

    async def abort(self) -> None:
        """Drop the new index; the live one is untouched."""
        ...


class SearchIndex(Protocol):
    async def ensure(self) -> None:
        """Create the index or apply its settings at start; safe to repeat."""
        ...

    async def upsert(self, doc: SearchDocument) -> bool:
        """Write the document; False when the stored version (or tombstone) is as new or newer."""
        ...

    async def delete(self, portfolio_id: UUID, version: int) -> bool:
        """Remove it, keeping a tombstone at `version` so an older upsert cannot resurrect it."""
        ...

    async def get(self, portfolio_id: UUID) -> SearchDocument | None:
        """The live document, or None (never indexed, or deleted)."""
        ...

    async def search(self, query: SearchQuery) -> SearchPage: ...

    async def versions(self) -> dict[UUID, int]:
        """Every live (not deleted) document's version, for the reconcile job."""
        ...

    async def begin_rebuild(self, progress: ProgressCallback | None = None) -> Rebuild:
        """Start filling a fresh index; writes to the live index keep working meanwhile."""
        ...

    async def purge_tombstones(self, before: datetime) -> int:
        """Forget tombstones written before `before`; choose it far beyond any event's delay,
        since a purged tombstone no longer refuses a late, older upsert."""
        ...

    async def close(self) -> None:
        """Release what the adapter owns (threads, clients); not a shared engine."""
        ...
