"""One behaviour suite for every search backend: PostgreSQL always, Meilisearch where one answers.

Subclass `SearchConformance` and provide a `search_index` fixture yielding an empty, ensured
index of the test's own; pytest collects the inherited tests. What `search.index` promises about
query semantics is asserted here, so the service can swap backends by configuration.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from events.testing import wait_for
from search.index import InvalidQuery, SearchIndex, SearchPage, SearchQuery
from search.testing import EPOCH, document, revised


async def ids(index: SearchIndex, q: str, **kw: object) -> list[uuid.UUID]:
    page = await index.search(SearchQuery(q, **kw))  # type: ignore[arg-type]
    return [h.portfolio_id for h in page.hits]


class SearchConformance:
    """The behaviour every search backend must show."""

    @pytest.fixture
    def search_index(self) -> SearchIndex:
        raise NotImplementedError

    async def test_an_indexed_document_is_found_and_read_back(
        self, search_index: SearchIndex
    ) -> None:
        doc = document("Harbour sketches", "Ink drawings of boats", items=["Fishing boat"])
        assert await search_index.upsert(doc) is True
        page = await search_index.search(SearchQuery("harbour"))
        assert [h.portfolio_id for h in page.hits] == [doc.portfolio_id]
        hit = page.hits[0]
        assert (hit.title, hit.owner_name, hit.thumbnail) == (
            doc.title,
            doc.owner_name,
            doc.thumbnail,
        )
        assert hit.updated_at == doc.updated_at and page.estimated_total == 1
        assert await search_index.get(doc.portfolio_id) == doc
        assert await ids(search_index, "fishing") == [doc.portfolio_id]  # item titles
        assert await ids(search_index, "lovelace") == [doc.portfolio_id]  # owner name
        assert await ids(search_index, "drawings boats") == [doc.portfolio_id]

    async def test_every_word_must_match(self, search_index: SearchIndex) -> None:
        both = document("Blue whale")
        await search_index.upsert(both)
        await search_index.upsert(document("Blue door"))
        assert await ids(search_index, "whale blue") == [both.portfolio_id]
        assert await ids(search_index, "blue submarine") == []

    async def test_accents_and_case_are_ignored(self, search_index: SearchIndex) -> None:
        doc = document("Café CRÈME in São Paulo")
        await search_index.upsert(doc)
        assert await ids(search_index, "cafe creme sao") == [doc.portfolio_id]

    async def test_an_update_replaces_the_document(self, search_index: SearchIndex) -> None:
        first = document("Alpine meadows")
        await search_index.upsert(first)
        second = revised(first, title="Coastal cliffs")
        assert await search_index.upsert(second) is True
        assert await ids(search_index, "meadows") == []
        assert await ids(search_index, "cliffs") == [first.portfolio_id]
        assert await search_index.get(first.portfolio_id) == second

    async def test_a_delete_removes_it(self, search_index: SearchIndex) -> None:
        doc = document("Origami cranes")
        await search_index.upsert(doc)
        assert await search_index.delete(doc.portfolio_id, doc.version + 1) is True
        assert await ids(search_index, "origami") == []
        assert await search_index.get(doc.portfolio_id) is None
        assert doc.portfolio_id not in await search_index.versions()

    async def test_a_stale_or_repeated_upsert_is_ignored(self, search_index: SearchIndex) -> None:
        doc = document("Night trains", version=5)
        await search_index.upsert(doc)
        assert await search_index.upsert(revised(doc, title="Day buses", version=4)) is False
        assert await search_index.upsert(revised(doc, title="Day buses", version=5)) is False
        assert await search_index.get(doc.portfolio_id) == doc
        assert await ids(search_index, "buses") == []

    async def test_a_late_upsert_cannot_resurrect_a_deleted_document(
        self, search_index: SearchIndex
    ) -> None:
        doc = document("Glass sculpture", version=1)
        await search_index.upsert(doc)
        assert await search_index.delete(doc.portfolio_id, 2) is True
        assert await search_index.upsert(revised(doc, version=2)) is False
        assert await search_index.delete(doc.portfolio_id, 2) is False
        assert await search_index.get(doc.portfolio_id) is None
        assert await ids(search_index, "sculpture") == []
        # Made public again: a newer version comes back.
        assert await search_index.upsert(revised(doc, version=3)) is True
        assert await ids(search_index, "sculpture") == [doc.portfolio_id]

    async def test_a_delete_older_than_the_document_is_ignored(
        self, search_index: SearchIndex
    ) -> None:
        doc = document("Ceramic bowls", version=3)
        await search_index.upsert(doc)
        assert await search_index.delete(doc.portfolio_id, 2) is False
        assert await ids(search_index, "ceramic") == [doc.portfolio_id]

    @pytest.mark.parametrize(
        ("typed", "kind"),
        [
            ("sculptore", "substitution"),
            ("sculpure", "deletion"),
            ("sculpturre", "insertion"),
            ("sculptrue", "transposition"),
            ("pinao", "transposition in a 5-letter word"),
            ("piani", "substitution in a 5-letter word"),
        ],
    )
    async def test_one_typo_in_a_long_word_still_finds_it(
        self, search_index: SearchIndex, typed: str, kind: str
    ) -> None:
        doc = document("Bronze sculpture", "A grand piano in the hall")
        await search_index.upsert(doc)
        assert await ids(search_index, typed) == [doc.portfolio_id], kind

    @pytest.mark.parametrize(
        ("typed", "why"),
        [
            ("lamb", "a 4-letter word must match exactly"),
            ("lmap", "a 4-letter word must match exactly"),
            ("xculpture", "a typo on the first letter counts as two"),
            ("sculptrueo", "two typos"),
        ],
    )
    async def test_what_is_not_one_tolerated_typo_finds_nothing(
        self, search_index: SearchIndex, typed: str, why: str
    ) -> None:
        await search_index.upsert(document("Desk lamp and sculpture"))
        assert await ids(search_index, typed) == [], why

    async def test_owner_filter(self, search_index: SearchIndex) -> None:
        mine, theirs = uuid.uuid4(), uuid.uuid4()
        a = document("Pottery studio", owner_id=mine)
        await search_index.upsert(a)
        await search_index.upsert(document("Pottery wheel", owner_id=theirs))
        assert await ids(search_index, "pottery", owner_id=mine) == [a.portfolio_id]
        assert await ids(search_index, "", owner_id=mine) == [a.portfolio_id]
        assert await ids(search_index, "pottery", owner_id=uuid.uuid4()) == []

    async def test_pages_cover_every_hit_exactly_once(self, search_index: SearchIndex) -> None:
        docs = [
            document(
                "Lighthouse" if n % 3 == 0 else "Coast",
                "lighthouse " * (1 + n % 2),
                age_minutes=n % 7,
            )
            for n in range(23)
        ]
        for doc in docs:
            await search_index.upsert(doc)
        for q in ("lighthouse", ""):
            seen: list[uuid.UUID] = []
            pages: list[SearchPage] = []
            cursor: str | None = None
            while True:
                page = await search_index.search(SearchQuery(q, limit=5, cursor=cursor))
                pages.append(page)
                seen += [h.portfolio_id for h in page.hits]
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert len(seen) == len(set(seen)) == 23, q
            assert set(seen) == {d.portfolio_id for d in docs}
            assert [len(p.hits) for p in pages] == [5, 5, 5, 5, 3]
            assert pages[0].estimated_total == 23
            assert seen == await ids(search_index, q, limit=23)

    async def test_a_cursor_is_bound_to_its_query(self, search_index: SearchIndex) -> None:
        for n in range(3):
            await search_index.upsert(document(f"Canyon {n}"))
        page = await search_index.search(SearchQuery("canyon", limit=1))
        assert page.next_cursor is not None
        with pytest.raises(InvalidQuery):
            await search_index.search(SearchQuery("desert", limit=1, cursor=page.next_cursor))
        with pytest.raises(InvalidQuery):
            await search_index.search(SearchQuery("canyon", cursor="not-a-cursor"))

    async def test_a_title_match_ranks_above_a_description_match(
        self, search_index: SearchIndex
    ) -> None:
        described = document("Night scenes", "A windmill at dusk", age_minutes=0)
        titled = document("Windmill", "Old photographs", age_minutes=60)
        await search_index.upsert(described)
        await search_index.upsert(titled)
        assert await ids(search_index, "windmill") == [titled.portfolio_id, described.portfolio_id]

    async def test_equal_relevance_puts_the_newest_first(self, search_index: SearchIndex) -> None:
        docs = [document("Tidal pools", "Rock pools", age_minutes=m) for m in (30, 0, 90, 10)]
        for doc in docs:
            await search_index.upsert(doc)
        newest_first = sorted(docs, key=lambda d: d.updated_at, reverse=True)
        assert await ids(search_index, "tidal") == [d.portfolio_id for d in newest_first]
        assert await ids(search_index, "") == [d.portfolio_id for d in newest_first]

    async def test_an_exact_match_ranks_above_a_typo_match(self, search_index: SearchIndex) -> None:
        typo = document("Mable furniture", age_minutes=0)
        exact = document("Maple furniture", age_minutes=60)
        await search_index.upsert(typo)
        await search_index.upsert(exact)
        assert await ids(search_index, "maple") == [exact.portfolio_id, typo.portfolio_id]

    async def test_highlights_mark_the_words_and_escape_the_rest(
        self, search_index: SearchIndex
    ) -> None:
        doc = document(
            "Tom & Jerry <b>cartoons</b>",
            'Sketches where 5 < 6 & "cartoons" rule',
            items=["Cartoons sketchbook", "Other"],
        )
        await search_index.upsert(doc)
        [hit] = (await search_index.search(SearchQuery("cartoons"))).hits
        assert hit.highlights["title"] == (
            "Tom &amp; Jerry &lt;b&gt;<mark>cartoons</mark>&lt;/b&gt;"
        )
        description = hit.highlights["description"]
        assert "<mark>cartoons</mark>" in description
        assert "5 &lt; 6 &amp; &quot;" in description
        assert description.replace("<mark>", "").replace("</mark>", "").count("<") == 0
        assert hit.highlights["items"] == "<mark>Cartoons</mark> sketchbook"
        [typo_hit] = (await search_index.search(SearchQuery("cartons"))).hits
        assert "<mark>cartoons</mark>" in typo_hit.highlights["title"]

    async def test_versions_lists_what_is_indexed(self, search_index: SearchIndex) -> None:
        kept = document("Kept", version=4)
        gone = document("Gone", version=2)
        await search_index.upsert(kept)
        await search_index.upsert(gone)
        await search_index.delete(gone.portfolio_id, 3)
        assert await search_index.versions() == {kept.portfolio_id: 4}

    async def test_a_rebuild_swaps_in_without_an_empty_moment(
        self, search_index: SearchIndex
    ) -> None:
        docs = [document(f"Lantern festival {n}", age_minutes=n) for n in range(5)]
        for doc in docs:
            await search_index.upsert(doc)
        counts: list[int] = []
        stop = asyncio.Event()

        async def reader() -> None:
            while not stop.is_set():
                counts.append(len((await search_index.search(SearchQuery("lantern"))).hits))
                await asyncio.sleep(0)

        task = asyncio.create_task(reader())
        try:
            rebuild = await search_index.begin_rebuild()
            late = document("Lantern parade")  # written live while the rebuild loads
            await search_index.upsert(late)
            fresh = [revised(d) for d in docs[:3]] + [document("Lantern workshop")]
            assert await rebuild.add_many(fresh) == 4
            before_swap = len(counts)
            await rebuild.commit()
            await wait_for(lambda: len(counts) > before_swap + 3, message="reads after swap")
        finally:
            stop.set()
            await task
        assert min(counts) > 0, counts
        assert counts[-1] == 5  # the rebuilt 4 plus the live write; docs[3:] were not reloaded
        found = set(await ids(search_index, "lantern"))
        assert found == {d.portfolio_id for d in fresh} | {late.portfolio_id}
        assert (await search_index.versions())[docs[0].portfolio_id] == 2

    async def test_an_aborted_rebuild_leaves_the_live_index(
        self, search_index: SearchIndex
    ) -> None:
        doc = document("Paper lanterns")
        await search_index.upsert(doc)
        rebuild = await search_index.begin_rebuild()
        await rebuild.add_many([document("Something else")])
        await rebuild.abort()
        assert await ids(search_index, "lanterns") == [doc.portfolio_id]
        assert set(await search_index.versions()) == {doc.portfolio_id}

    async def test_purged_tombstones_no_longer_refuse_old_versions(
        self, search_index: SearchIndex
    ) -> None:
        doc = document("Purge drill", version=1)
        kept = document("Kept drill", version=1)
        await search_index.upsert(doc)
        await search_index.upsert(kept)
        await search_index.delete(doc.portfolio_id, 2)
        purged = await search_index.purge_tombstones(datetime.now(UTC) + timedelta(minutes=1))
        assert purged == 1
        assert await search_index.upsert(doc) is True
        assert await search_index.versions() == {doc.portfolio_id: 1, kept.portfolio_id: 1}

    async def test_quotes_and_dashes_are_plain_text(self, search_index: SearchIndex) -> None:
        doc = document("Sun and moon prints")
        await search_index.upsert(doc)
        assert await ids(search_index, '"moon sun"') == [doc.portfolio_id]
        assert await ids(search_index, "sun -moon") == [doc.portfolio_id]

    async def test_timestamps_keep_their_instant(self, search_index: SearchIndex) -> None:
        doc = document("Clockwork", updated_at=EPOCH + timedelta(microseconds=123456))
        await search_index.upsert(doc)
        got = await search_index.get(doc.portfolio_id)
        assert got is not None and got.updated_at == doc.updated_at
