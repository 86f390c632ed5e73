"""Optimistic concurrency over HTTP: an ETag from the row's version, `If-Match` on writes.

A write without `If-Match` is refused (428): a client that never read the resource must not
overwrite someone else's change. A stale `If-Match` is 412. The version check itself belongs in
the UPDATE statement (`WHERE version = :expected`), never in a read followed by a write.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Response

from servicekit.errors import DomainError

_TAG = re.compile(r'^\s*(?:W/)?"v?(\d{1,18})"\s*$')


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "Precondition required"
    detail = "Send If-Match with the ETag you last read, so that no change is lost."


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"
    detail = "The resource changed since you read it; read it again and retry."


def etag(version: int) -> str:
    """A strong ETag: the version names the representation exactly."""
    return f'"v{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def parse_if_match(value: str | None) -> int:
    """The version an `If-Match` names; 428 without one, 412 for a tag we never issued."""
    if value is None or not value.strip():
        raise PreconditionRequired()
    if value.strip() == "*":
        raise PreconditionFailed("If-Match: * is not enough here; send the ETag you read.")
    versions = [_TAG.match(part) for part in value.split(",")]
    if len(versions) != 1 or versions[0] is None or value.lstrip().startswith("W/"):
        # If-Match uses the strong comparison (RFC 9110 13.1.1): weak tags never match.
        raise PreconditionFailed("If-Match must be exactly one ETag this service issued.")
    return int(versions[0].group(1))


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether `If-None-Match` already names this version (answer 304)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # If-None-Match uses the weak comparison: W/"v3" matches "v3".
    for part in if_none_match.split(","):
        match = _TAG.match(part)
        if match is not None and int(match.group(1)) == version:
            return True
    return False


def expected_version(if_match: Annotated[str | None, Header()] = None) -> int:
    """A FastAPI dependency: the version the client's `If-Match` names."""
    return parse_if_match(if_match)


def check_version(current: int, expected: int) -> None:
    """For writes that cannot put the check in their UPDATE (a delete of several rows)."""
    if current != expected:
        raise PreconditionFailed()
