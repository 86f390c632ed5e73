"""The conformance suite on the PostgreSQL backend, in a fresh database per test."""

from __future__ import annotations

import pytest

from search.adapters.postgres import PostgresSearchIndex
from search.conformance import SearchConformance
from search.index import SearchIndex


class TestPostgresConformance(SearchConformance):
    @pytest.fixture
    def search_index(self, pg_index: PostgresSearchIndex) -> SearchIndex:
        return pg_index
