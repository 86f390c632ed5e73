"""Opaque tokens (verification, refresh): 32 random bytes, and only their hash at rest.

SHA-256 is the right hash here: the token has 256 bits of entropy, so no slow hash is needed to
resist guessing, and a lookup by hash stays an index scan.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
