"""Readable, unique handles and slugs: `/ada-lovelace/my-paintings`."""

from __future__ import annotations

import re
import unicodedata
import uuid

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 80) -> str:
    """Lower-case ASCII words joined by hyphens; accents folded (`Café Münch` → `cafe-munch`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def handle_candidates(display_name: str, user_id: uuid.UUID) -> list[str]:
    """The handles to try, in order: the name itself, then made unique by the user's id."""
    base = slugify(display_name, 48) or "user"
    return [base, f"{base}-{user_id.hex[:6]}", f"{base}-{user_id.hex}"]
