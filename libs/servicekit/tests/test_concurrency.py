"""ETags from versions: If-Match required and compared strongly, If-None-Match weakly."""

from __future__ import annotations

import pytest

from servicekit.concurrency import (
    PreconditionFailed,
    PreconditionRequired,
    etag,
    not_modified,
    parse_if_match,
)


def test_if_match_names_the_version_of_an_etag_we_issued() -> None:
    assert parse_if_match(etag(7)) == 7
    assert parse_if_match(f"  {etag(12)} ") == 12


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_write_without_if_match_is_refused_as_428(header: str | None) -> None:
    with pytest.raises(PreconditionRequired):
        parse_if_match(header)


@pytest.mark.parametrize("header", ["*", 'W/"v3"', '"v3", "v4"', "v3", '"abc"'])
def test_a_wildcard_weak_list_or_foreign_tag_is_refused_as_412(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        parse_if_match(header)


def test_if_none_match_compares_weakly_and_accepts_lists() -> None:
    assert not_modified(etag(3), 3)
    assert not_modified('W/"v3"', 3)
    assert not_modified('"v1", "v3"', 3)
    assert not_modified("*", 3)
    assert not not_modified(etag(2), 3)
    assert not not_modified(None, 3)
