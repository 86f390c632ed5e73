"""The search index on Meilisearch, through the official `meilisearch` client.

Why the official client, called in threads: it is the one Meilisearch maintains (new API
versions land there first) and it brings no second HTTP stack (it uses `requests`; the async
`meilisearch-python-sdk` now depends on `httpx2`, a fork beside the workspace's httpx). Its
cost, handled here: its calls block (they run in this adapter's own bounded thread pool, never on
the event loop nor in the loop's default executor), and a `Client` mutates shared header state
per request (a POST sets Content-Type, a GET removes it), so one client shared by threads races;
each worker thread gets its own client.

Task waits poll `GET /tasks/{uid}` from the event loop (no thread sleeps through the wait) up to
`task_timeout_s`; a write returns once Meilisearch has applied it, so a search right after an
upsert sees it.

The version rule is read-then-write: the stored version (or tombstone) is read, and the write
is sent only when newer. Two writers of one document could interleave between read and write
and let the older land last. The service serialises writes per portfolio (one handler handles
a portfolio's events in order, and the reconcile job compares `versions()` with the projection),
so the window is closed in practice and repaired if ever hit. Meilisearch has no conditional
write (its edit-by-function is experimental and cannot insert), so nothing tighter exists.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import meilisearch
from meilisearch.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchTimeoutError,
)
from meilisearch.models.document import DocumentsResults
from meilisearch.models.task import TaskInfo

from search import cursor
from search.adapters import meilisearch_documents as wire
from search.adapters.meilisearch_rebuild import MeilisearchRebuild
from search.index import (
    IndexRejected,
    ProgressCallback,
    Rebuild,
    SearchDocument,
    SearchIndex,
    SearchPage,
    SearchQuery,
    SearchUnavailable,
)

T = TypeVar("T")
_OPERATORS = re.compile(r'"|(?:(?<=\s)|^)-+')


@dataclass(frozen=True)
class MeilisearchSettings:
    url: str
    api_key: str | None = None
    index: str = "portfolios"
    request_timeout_s: int = 5
    task_timeout_s: float = 30.0
    poll_interval_s: float = 0.02
    threads: int = 8


class MeilisearchSearchIndex:
    """`SearchIndex` on Meilisearch; owns its thread pool (`close` releases it)."""

    def __init__(self, settings: MeilisearchSettings) -> None:
        self.settings = settings
        self.uid = settings.index
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="meilisearch")

    def _client(self) -> meilisearch.Client:
        client: meilisearch.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = meilisearch.Client(
                self.settings.url, self.settings.api_key, timeout=self.settings.request_timeout_s
            )
            self._local.client = client
        return client

    async def call(self, fn: Callable[[meilisearch.Client], T]) -> T:
        """Run one client call in the pool; transport failures become `SearchUnavailable`."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(self._client()))
        except (MeilisearchCommunicationError, MeilisearchTimeoutError) as exc:
            raise SearchUnavailable(f"Meilisearch is unreachable: {exc.message}") from exc
        except MeilisearchApiError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise SearchUnavailable(
                    f"Meilisearch answered {exc.status_code}: {exc.message}"
                ) from exc
            raise

    async def wait(self, task: TaskInfo | int, *, allow: tuple[str, ...] = ()) -> dict[str, Any]:
        """Poll the task until it is done; a failure raises unless its code is in `allow`."""
        uid = task if isinstance(task, int) else task.task_uid
        deadline = asyncio.get_running_loop().time() + self.settings.task_timeout_s
        interval = self.settings.poll_interval_s
        while True:
            found = await self.call(lambda c: c.get_task(uid))
            if found.status == "succeeded":
                return found.details or {}
            if found.status in ("failed", "canceled"):
                error = found.error or {}
                if error.get("code") in allow:
                    return {}
                raise IndexRejected(
                    f"Meilisearch task {uid} ({found.type}) {found.status}: "
                    f"{error.get('code', '')}: {error.get('message', '')}"
                )
            if asyncio.get_running_loop().time() >= deadline:
                raise SearchUnavailable(
                    f"Meilisearch task {uid} still {found.status} after "
                    f"{self.settings.task_timeout_s}s"
                )
            await asyncio.sleep(interval)
            interval = min(interval * 2, 0.5)

    async def ensure(self) -> None:
        await self.create_index(self.uid)

    async def create_index(self, uid: str) -> None:
        created = await self.call(lambda c: c.create_index(uid, {"primaryKey": "id"}))
        await self.wait(created, allow=("index_already_exists",))
        applied = await self.call(lambda c: c.index(uid).update_settings(dict(wire.SETTINGS)))
        await self.wait(applied)

    async def stored_versions(self, uid: str, ids: Iterable[str]) -> dict[str, int]:
        """The versions `uid` holds for these ids, tombstones included."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        listed = ", ".join(f'"{i}"' for i in wanted)
        params = {"filter": f"id IN [{listed}]", "fields": ["id", "version"], "limit": len(wanted)}
        found = await self.call(lambda c: c.index(uid).get_documents(dict(params)))
        return {str(d.id): int(d.version) for d in found.results}

    async def write_newer(self, uid: str, docs: list[dict[str, Any]]) -> int:
        """Send the documents that are newer than what `uid` holds; returns how many."""
        newest: dict[str, dict[str, Any]] = {}
        for doc in docs:
            held = newest.get(doc["id"])
            if held is None or held["version"] < doc["version"]:
                newest[doc["id"]] = doc
        stored = await self.stored_versions(uid, newest)
        batch = [d for i, d in newest.items() if stored.get(i, -1) < d["version"]]
        if batch:
            task = await self.call(lambda c: c.index(uid).add_documents(batch, "id"))
            await self.wait(task)
        return len(batch)

    async def upsert(self, doc: SearchDocument) -> bool:
        return await self.write_newer(self.uid, [wire.to_meilisearch(doc)]) == 1

    async def delete(self, portfolio_id: UUID, version: int) -> bool:
        return await self.write_newer(self.uid, [wire.tombstone(portfolio_id, version)]) == 1

    async def get(self, portfolio_id: UUID) -> SearchDocument | None:
        try:
            found = await self.call(lambda c: c.index(self.uid).get_document(str(portfolio_id)))
        except MeilisearchApiError as exc:
            if exc.code == "document_not_found":
                return None
            raise IndexRejected(f"Meilisearch refused to read a document: {exc}") from exc
        raw = dict(found)
        return None if raw.get("deleted") else wire.from_meilisearch(raw)

    async def versions(self) -> dict[UUID, int]:
        return {
            UUID(d["id"]): int(d["version"])
            for d in await self.scan(self.uid, "deleted = false", ["id", "version"])
        }

    async def scan(
        self, uid: str, filter_: str, fields: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every document of `uid` matching the filter (all fields unless given), by thousands."""
        out: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"filter": filter_, "offset": len(out), "limit": 1000}
            if fields is not None:
                params["fields"] = fields

            def fetch(c: meilisearch.Client, p: dict[str, Any] = params) -> DocumentsResults:
                return c.index(uid).get_documents(p)

            page = await self.call(fetch)
            out += [dict(d) for d in page.results]
            if not page.results or len(out) >= page.total:
                return out

    async def search(self, query: SearchQuery) -> SearchPage:
        position = cursor.decode(query)
        offset = int(position["o"]) if position is not None else 0
        browse = not query.q.strip()
        params = wire.search_params(
            owner_id=query.owner_id, offset=offset, limit=query.limit + 1, browse=browse
        )
        try:
            found = await self.call(lambda c: c.index(self.uid).search(plain(query.q), params))
        except MeilisearchApiError as exc:
            raise IndexRejected(f"Meilisearch refused the search: {exc}") from exc
        hits = found.get("hits", [])
        page = hits[: query.limit]
        more = len(hits) > query.limit
        next_cursor = cursor.encode(query, {"o": offset + query.limit}) if more else None
        total = int(found.get("estimatedTotalHits", offset + len(hits)))
        return SearchPage([wire.to_hit(h) for h in page], next_cursor, total)

    async def begin_rebuild(self, progress: ProgressCallback | None = None) -> Rebuild:

        return await MeilisearchRebuild.begin(self, progress)

    async def purge_tombstones(self, before: datetime) -> int:
        cutoff = int(before.timestamp() * 1000)
        task = await self.call(
            lambda c: c.index(self.uid).delete_documents(
                filter=f"deleted = true AND indexed_at_ms < {cutoff}"
            )
        )
        details = await self.wait(task)
        return int(details.get("deletedDocuments") or 0)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True)


def plain(q: str) -> str:
    """The words alone: Meilisearch reads "..." as a phrase and a leading - as "without",
    operators the PostgreSQL backend does not have; the API promises plain words on both."""
    return _OPERATORS.sub(" ", q)


def _check_protocol(index: MeilisearchSearchIndex) -> SearchIndex:
    return index
