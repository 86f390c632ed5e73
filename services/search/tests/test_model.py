"""The port's value objects, cursors, highlights and the typo rule: pure, no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from search import cursor, highlight
from search.index import InvalidDocument, InvalidQuery, SearchQuery
from search.testing import document
from search.typos import one_typo_apart


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 0}, {"limit": 51}, {"q": "x" * 201}, {"q": "a " * 11}, {"q": "nul\x00"}],
)
def test_a_query_out_of_bounds_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidQuery):
        SearchQuery(**kwargs)  # type: ignore[arg-type]


def test_a_document_needs_an_aware_timestamp_and_a_version() -> None:
    with pytest.raises(InvalidDocument, match="timezone"):
        document(updated_at=datetime(2026, 1, 1))
    with pytest.raises(InvalidDocument, match="version"):
        document(version=-1)


def test_a_cursor_round_trips_only_for_its_own_query() -> None:
    owner = uuid.uuid4()
    query = SearchQuery("Blue  Whale", owner_id=owner)
    token = cursor.encode(query, {"offset": 20})
    assert cursor.decode(SearchQuery("blue whale", owner_id=owner, cursor=token)) == {"offset": 20}
    with pytest.raises(InvalidQuery, match="another query"):
        cursor.decode(SearchQuery("blue whale", cursor=token))
    for broken in ("%%%", token[:-3], "eyJ2IjoyfQ"):
        with pytest.raises(InvalidQuery):
            cursor.decode(SearchQuery("blue whale", owner_id=owner, cursor=broken))


def test_highlights_escape_content_and_mark_matches() -> None:
    marked = f'<img src=x onerror="a&b"> {highlight.PRE}cat{highlight.POST}'
    assert highlight.render(marked) == (
        "&lt;img src=x onerror=&quot;a&amp;b&quot;&gt; <mark>cat</mark>"
    )
    assert highlight.render("no match here") is None
    assert highlight.strip(f"a{highlight.PRE}b{highlight.POST}") == "ab"


@pytest.mark.parametrize(
    ("typed", "word", "expected"),
    [
        ("sculptore", "sculpture", True),
        ("sculpure", "sculpture", True),
        ("sculpturre", "sculpture", True),
        ("sculptrue", "sculpture", True),
        ("xculpture", "sculpture", False),
        ("csulpture", "sculpture", False),
        ("sculptrueo", "sculpture", False),
        ("sculpture", "sculpture", False),
        ("paint", "pain", True),
    ],
)
def test_one_typo_apart(typed: str, word: str, expected: bool) -> None:
    assert one_typo_apart(typed, word) is expected
    assert one_typo_apart(word, typed) is expected
