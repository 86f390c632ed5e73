"""The conformance suite on a real Meilisearch, wherever SEARCH_MEILISEARCH_URL answers.

No Meilisearch binary can be installed on the development machines (none is in PyPI, npm or
Debian), so here these tests are reported as skipped, with the reason. Run them with a server:
`docker run -p 7700:7700 getmeili/meilisearch:v1.12` (or newer) and
`SEARCH_MEILISEARCH_URL=http://127.0.0.1:7700 [SEARCH_MEILISEARCH_KEY=...] just test-search`.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import AsyncIterator

import pytest

from search.adapters.meilisearch import MeilisearchSearchIndex, MeilisearchSettings
from search.conformance import SearchConformance
from search.index import SearchIndex

URL = os.environ.get("SEARCH_MEILISEARCH_URL", "")
KEY = os.environ.get("SEARCH_MEILISEARCH_KEY") or None


def _answers(url: str) -> bool:
    if not url:
        return False
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _answers(URL),
    reason=(
        "SEARCH_MEILISEARCH_URL is not set or does not answer at /health: the Meilisearch "
        "conformance run needs a real Meilisearch (>= 1.12); none can be installed here"
        if not URL
        else f"SEARCH_MEILISEARCH_URL={URL} does not answer at /health"
    ),
)


class TestMeilisearchConformance(SearchConformance):
    @pytest.fixture
    async def search_index(self) -> AsyncIterator[SearchIndex]:
        uid = f"conformance_{uuid.uuid4().hex[:12]}"
        index = MeilisearchSearchIndex(MeilisearchSettings(URL, KEY, index=uid))
        await index.ensure()
        try:
            yield index
        finally:
            deleted = await index.call(lambda c: c.delete_index(uid))
            await index.wait(deleted)
            await index.close()
