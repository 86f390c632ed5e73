"""Highlights: backends mark matches with private-use sentinels; this turns them into safe HTML."""

from __future__ import annotations

import html

# Private-use code points never typed by people, so the backend's markers cannot collide with
# content once `strip` has removed any that a document smuggled in.
PRE = "\ue000"
POST = "\ue001"


def strip(text: str) -> str:
    """Content without sentinel characters, so only the backend can place markers."""
    return text.replace(PRE, "").replace(POST, "")


def render(marked: str | None) -> str | None:
    """HTML-escaped text with <mark> around matches; None when nothing was marked."""
    if not marked or PRE not in marked:
        return None
    escaped = html.escape(marked, quote=True)
    return escaped.replace(PRE, "<mark>").replace(POST, "</mark>")
