"""The Meilisearch adapter's side of the protocol, against a stub that answers as the API docs say.

The stub is not a search engine (see search.meilisearch_stub): these tests check what the adapter
sends (settings, documents, search parameters, swaps), how it waits on tasks, and how it maps
errors. Search behaviour on Meilisearch is the conformance suite's job, on a real server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from devkit.servers import free_port
from search.adapters.meilisearch import MeilisearchSearchIndex, MeilisearchSettings
from search.adapters.meilisearch_documents import SETTINGS
from search.highlight import POST, PRE
from search.index import IndexRejected, SearchQuery, SearchUnavailable
from search.meilisearch_stub import MeilisearchProtocolStub, error_body
from search.testing import document


@pytest.fixture
def stub() -> Iterator[MeilisearchProtocolStub]:
    with MeilisearchProtocolStub() as server:
        yield server


def settings_for(url: str, **overrides: object) -> MeilisearchSettings:
    values: dict[str, object] = {
        "url": url,
        "api_key": "test-key",
        "request_timeout_s": 1,
        "task_timeout_s": 2.0,
        "poll_interval_s": 0.005,
    }
    return MeilisearchSettings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture
async def index(stub: MeilisearchProtocolStub) -> AsyncIterator[MeilisearchSearchIndex]:
    adapter = MeilisearchSearchIndex(settings_for(stub.base_url))
    yield adapter
    await adapter.close()


async def test_ensure_creates_the_index_applies_the_settings_and_waits_for_both(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    stub.polls_before_done = 2
    await index.ensure()
    assert stub.sent("POST", "/indexes") == [{"uid": "portfolios", "primaryKey": "id"}]
    [applied] = stub.sent("PATCH", "/indexes/portfolios/settings")
    assert applied == SETTINGS
    assert applied["rankingRules"][-1] == "updated_at_ms:desc"
    assert applied["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": 5, "twoTypos": 255}
    assert applied["filterableAttributes"] == ["id", "owner_id", "deleted", "indexed_at_ms"]
    # Each task polled until done (two `processing` answers, then `succeeded`), in order.
    order = [(r.method, r.path) for r in stub.requests]
    assert order == [
        ("POST", "/indexes"),
        *[("GET", "/tasks/0")] * 3,
        ("PATCH", "/indexes/portfolios/settings"),
        *[("GET", "/tasks/1")] * 3,
    ]


async def test_an_index_that_already_exists_is_fine(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    stub.next_tasks(("failed", error_body("index_already_exists", "Index exists.")))
    await index.ensure()
    assert len(stub.sent("PATCH", "/indexes/portfolios/settings")) == 1


async def test_a_failed_task_is_rejected_with_its_reason(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    stub.next_tasks(
        ("succeeded", None),
        ("failed", error_body("invalid_settings_ranking_rules", "bad rule")),
    )
    with pytest.raises(IndexRejected, match="invalid_settings_ranking_rules: bad rule"):
        await index.ensure()


async def test_a_task_that_never_finishes_is_unavailable_after_the_deadline(
    stub: MeilisearchProtocolStub,
) -> None:
    adapter = MeilisearchSearchIndex(settings_for(stub.base_url, task_timeout_s=0.3))
    stub.next_tasks(("stall", None))
    try:
        with pytest.raises(SearchUnavailable, match=r"still processing after 0\.3s"):
            await adapter.upsert(document("Stuck"))
    finally:
        await adapter.close()
    assert len(stub.sent("GET", "/tasks/0")) > 1


async def test_upsert_reads_the_stored_version_and_writes_only_newer(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    doc = document("Versioned", version=3, items=["Sketch"])
    stub.documents[str(doc.portfolio_id)] = {"id": str(doc.portfolio_id), "version": 3}
    assert await index.upsert(doc) is False
    assert stub.sent("POST", "/indexes/portfolios/documents") == []
    [lookup] = stub.sent("POST", "/indexes/portfolios/documents/fetch")
    assert lookup == {
        "filter": f'id IN ["{doc.portfolio_id}"]',
        "fields": ["id", "version"],
        "limit": 1,
    }
    newer = document("Versioned", portfolio_id=doc.portfolio_id, version=4, items=["Sketch"])
    assert await index.upsert(newer) is True
    [[sent]] = stub.sent("POST", "/indexes/portfolios/documents")
    assert sent["id"] == str(doc.portfolio_id) and sent["version"] == 4
    assert sent["deleted"] is False and sent["items"][0]["title"] == "Sketch"
    assert sent["updated_at_ms"] == int(newer.updated_at.timestamp() * 1000)


async def test_delete_writes_a_tombstone_and_get_hides_it(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    portfolio_id = uuid.uuid4()
    assert await index.delete(portfolio_id, 7) is True
    [[sent]] = stub.sent("POST", "/indexes/portfolios/documents")
    assert (sent["id"], sent["version"], sent["deleted"], sent["title"]) == (
        str(portfolio_id),
        7,
        True,
        "",
    )
    assert await index.get(uuid.uuid4()) is None  # 404 document_not_found
    stub.documents[str(portfolio_id)] = sent
    assert await index.get(portfolio_id) is None  # a tombstone


async def test_search_sends_the_shared_semantics_and_maps_the_hits(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    owner = uuid.uuid4()
    hits: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "title": "Tom & Jerry",
            "owner_name": "Ada",
            "thumbnail": "t.webp",
            "updated_at": "2026-01-01T00:00:00+00:00",
            "_rankingScore": 0.9 - n / 10,
            "_formatted": {
                "title": f"Tom & {PRE}Jerry{POST}",
                "description": "no match",
                "items": [{"title": "x"}, {"title": f"<{PRE}Jerry{POST}>"}],
            },
        }
        for n in range(2)
    ]
    stub.search_answer = {"hits": hits, "estimatedTotalHits": 7}
    page = await index.search(SearchQuery("jerry", owner_id=owner, limit=1))
    [body] = stub.sent("POST", "/indexes/portfolios/search")
    assert body["q"] == "jerry" and (body["offset"], body["limit"]) == (0, 2)
    assert body["filter"] == ["deleted = false", f'owner_id = "{owner}"']
    assert body["matchingStrategy"] == "all" and "sort" not in body
    assert (body["highlightPreTag"], body["highlightPostTag"]) == (PRE, POST)
    assert body["attributesToHighlight"] == ["title", "description", "items.title"]
    assert page.estimated_total == 7 and page.next_cursor is not None
    [hit] = page.hits
    assert hit.portfolio_id == uuid.UUID(hits[0]["id"]) and hit.score == pytest.approx(0.9)
    assert hit.highlights == {
        "title": "Tom &amp; <mark>Jerry</mark>",
        "items": "&lt;<mark>Jerry</mark>&gt;",
    }
    stub.search_answer = {"hits": hits[1:], "estimatedTotalHits": 7}
    second = await index.search(
        SearchQuery("jerry", owner_id=owner, limit=1, cursor=page.next_cursor)
    )
    assert stub.sent("POST", "/indexes/portfolios/search")[1]["offset"] == 1
    assert second.next_cursor is None
    await index.search(SearchQuery(""))
    assert stub.sent("POST", "/indexes/portfolios/search")[2]["sort"] == ["updated_at_ms:desc"]
    # Meilisearch's phrase and negation operators are not part of the API: plain words only.
    await index.search(SearchQuery('"sun moon" -night well-known'))
    sent_q = stub.sent("POST", "/indexes/portfolios/search")[3]["q"]
    assert sent_q.split() == ["sun", "moon", "night", "well-known"]


async def test_a_rebuild_fills_a_new_index_merges_recent_writes_and_swaps(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    rebuild = await index.begin_rebuild()
    [created] = stub.sent("POST", "/indexes")
    new_uid = created["uid"]
    assert new_uid.startswith("portfolios_rebuild_")
    assert stub.sent("PATCH", f"/indexes/{new_uid}/settings") == [SETTINGS]
    assert await rebuild.add_many([document("One"), document("Two")]) == 2
    [[*loaded]] = stub.sent("POST", f"/indexes/{new_uid}/documents")
    assert {d["title"] for d in loaded} == {"One", "Two"}
    await rebuild.commit()
    assert stub.sent("POST", "/swap-indexes") == [[{"indexes": ["portfolios", new_uid]}]]
    merges = [
        (r.path, r.body["filter"])
        for r in stub.requests
        if r.path.endswith("/documents/fetch") and "indexed_at_ms" in r.body["filter"]
    ]
    # Recent live writes read before the swap (from the live uid) and after it (the old index
    # now answers to the rebuild's uid).
    assert [path for path, _ in merges] == [
        "/indexes/portfolios/documents/fetch",
        f"/indexes/{new_uid}/documents/fetch",
    ]
    assert stub.sent("DELETE", f"/indexes/{new_uid}") == [None]
    swap_at = [r.path for r in stub.requests].index("/swap-indexes")
    drop_at = [r.path for r in stub.requests].index(f"/indexes/{new_uid}")
    assert swap_at < drop_at


async def test_an_unreachable_server_is_unavailable() -> None:
    adapter = MeilisearchSearchIndex(settings_for(f"http://127.0.0.1:{free_port()}"))
    try:
        for operation in (
            adapter.ensure(),
            adapter.search(SearchQuery("x")),
            adapter.upsert(document("x")),
            adapter.versions(),
        ):
            with pytest.raises(SearchUnavailable, match="unreachable"):
                await operation
    finally:
        await adapter.close()


async def test_server_errors_and_slow_answers_are_unavailable(
    index: MeilisearchSearchIndex, stub: MeilisearchProtocolStub
) -> None:
    stub.fail_next_request(503, "service_unavailable")
    with pytest.raises(SearchUnavailable, match="503"):
        await index.search(SearchQuery("x"))
    stub.delay_s = 1.5  # beyond the 1 s request timeout
    with pytest.raises(SearchUnavailable, match="unreachable"):
        await index.search(SearchQuery("x"))
    stub.delay_s = 0
    stub.fail_next_request(400, "invalid_search_filter", "invalid_request")
    with pytest.raises(IndexRejected, match="invalid_search_filter"):
        await index.search(SearchQuery("x"))
