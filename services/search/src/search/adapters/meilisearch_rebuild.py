"""Rebuild a Meilisearch index beside the live one, then swap them with `POST /swap-indexes`.

Searches keep hitting the live uid until the swap task, which Meilisearch applies atomically.
Live writes made since `begin` are merged by version into the new index before the swap, and
once more after it (from the old index, now under the rebuild's uid), so a write that slipped
in between the two is kept too: Meilisearch runs tasks in the order they were enqueued, so every
write to the live uid enqueued before the swap is in the old index when the second merge reads.
Merges look back from `begin` by `CLOCK_SLACK_MS`, since `indexed_at_ms` comes from the clocks
of the service's replicas; merging a few documents too many is harmless (versions decide).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from search.adapters import meilisearch_documents as wire
from search.index import ProgressCallback, SearchDocument

T = TypeVar("T")


class MeilisearchSearchIndex(Protocol):
    """What a rebuild needs of the index (the index itself, typed without importing it)."""

    uid: str

    async def create_index(self, uid: str) -> None: ...
    async def write_newer(self, uid: str, docs: list[dict[str, Any]]) -> int: ...
    async def scan(
        self, uid: str, filter_: str, fields: list[str] | None = None
    ) -> list[dict[str, Any]]: ...
    async def call(self, fn: Callable[[Any], T]) -> T: ...
    async def wait(self, task: Any, *, allow: tuple[str, ...] = ()) -> dict[str, Any]: ...


CLOCK_SLACK_MS = 60_000


class MeilisearchRebuild:
    def __init__(
        self,
        index: MeilisearchSearchIndex,
        uid: str,
        began_ms: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.index = index
        self.uid = uid
        self.began_ms = began_ms
        self.progress = progress
        self.loaded = 0
        self.finished = False

    @classmethod
    async def begin(
        cls, index: MeilisearchSearchIndex, progress: ProgressCallback | None
    ) -> MeilisearchRebuild:
        began_ms = wire.now_ms() - CLOCK_SLACK_MS
        uid = f"{index.uid}_rebuild_{uuid.uuid4().hex[:10]}"
        await index.create_index(uid)
        return cls(index, uid, began_ms, progress)

    async def add_many(self, docs: Iterable[SearchDocument]) -> int:
        self._check_open()
        batch = [wire.to_meilisearch(d) for d in docs]
        written = await self.index.write_newer(self.uid, batch)
        self.loaded += len(batch)
        if self.progress is not None:
            outcome = self.progress(self.loaded)
            if inspect.isawaitable(outcome):
                await outcome
        return written

    async def _merge(self, source: str, target: str) -> None:
        recent = await self.index.scan(source, f"indexed_at_ms >= {self.began_ms}")
        await self.index.write_newer(target, recent)

    async def commit(self) -> None:
        self._check_open()
        live = self.index.uid
        await self._merge(live, self.uid)
        swapped = await self.index.call(lambda c: c.swap_indexes([{"indexes": [live, self.uid]}]))
        await self.index.wait(swapped)
        await self._merge(self.uid, live)  # the old index now answers to self.uid
        await self._drop()

    async def abort(self) -> None:
        if not self.finished:
            await self._drop()

    async def _drop(self) -> None:
        deleted = await self.index.call(lambda c: c.delete_index(self.uid))
        await self.index.wait(deleted)
        self.finished = True

    def _check_open(self) -> None:
        if self.finished:
            raise RuntimeError(f"the rebuild into {self.uid} is already committed or aborted")
