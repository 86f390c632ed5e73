"""Opaque page cursors, bound to the query they continue so they cannot be replayed elsewhere."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from search.index import InvalidQuery, SearchQuery

_VERSION = 1


def _fingerprint(query: SearchQuery) -> str:
    # The limit is left out on purpose: a client may change page size between pages.
    basis = json.dumps([" ".join(query.q.lower().split()), str(query.owner_id or "")])
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def encode(query: SearchQuery, position: dict[str, Any]) -> str:
    """A cursor continuing `query` after `position` (backend-specific, JSON-serialisable)."""
    body = {"v": _VERSION, "f": _fingerprint(query), "p": position}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(query: SearchQuery) -> dict[str, Any] | None:
    """The position stored in `query.cursor`, or None for a first page."""
    if query.cursor is None:
        return None
    text = query.cursor
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidQuery("the cursor is not one this service issued") from exc
    if not isinstance(body, dict) or body.get("v") != _VERSION or "p" not in body:
        raise InvalidQuery("the cursor is not one this service issued")
    if body.get("f") != _fingerprint(query):
        raise InvalidQuery("the cursor belongs to another query")
    position = body["p"]
    if not isinstance(position, dict):
        raise InvalidQuery("the cursor is not one this service issued")
    return position
