"""The object-storage port the media service writes originals and variants through, and the
failures an adapter reports: transient (retry) or permanent (do not)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

MAX_KEY_BYTES = 1024
MAX_PRESIGN_EXPIRY = timedelta(days=7)  # the SigV4 limit


class StorageError(Exception):
    """Permanent: the request itself is wrong, repeating it gets the same answer."""


class InvalidObjectRequest(StorageError, ValueError):
    """Refused before any request: a bad key, prefix, size or expiry."""


class ObjectMissing(StorageError):
    """No object under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r}")
        self.key = key


class StorageUnavailable(Exception):
    """Transient: the store is down, unreachable, slow or busy (refused, reset, timed out, 5xx,
    SlowDown). Worth retrying later; nothing was half-written."""


class StorageMisconfigured(StorageUnavailable):
    """The store refuses our credentials or lacks our bucket: an operator's fix, after which the
    same request succeeds, so it is retried like an outage (and alerts if it lasts)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    """User metadata (x-amz-meta-*), keys lower-cased as S3 returns them."""


@dataclass(frozen=True)
class PresignedUpload:
    """A browser form POST straight to the store; the policy bounds size and content type."""

    url: str
    fields: Mapping[str, str]
    """Send these form fields first, then the file as the last field, named `file`."""
    key: str
    content_type: str
    max_size: int
    expires_at: datetime


class ObjectStorage(Protocol):
    """One bucket of an S3-compatible store. Keys are opaque, `/` only groups them."""

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (at start); raises if it cannot be reached."""
        ...

    async def put_file(
        self, key: str, path: Path, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> ObjectInfo:
        """Stream a file up (multipart above the threshold); either all of it or nothing lands."""
        ...

    async def put_bytes(
        self, key: str, data: bytes, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> ObjectInfo: ...

    async def head(self, key: str) -> ObjectInfo:
        """Size, type and metadata; ObjectMissing if absent."""
        ...

    async def download(self, key: str, path: Path) -> ObjectInfo:
        """Stream it to `path`, which appears only once complete; ObjectMissing if absent."""
        ...

    async def delete(self, key: str) -> None:
        """Remove one object; an absent key is not an error (deletes are idempotent)."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix` (never empty); returns how many."""
        ...

    async def presigned_get(self, key: str, *, expires_in: timedelta | None = None) -> str:
        """A URL anyone holding it can GET the object with, until it expires."""
        ...

    async def presigned_upload(
        self,
        key: str,
        *,
        content_type: str,
        max_size: int,
        min_size: int = 1,
        expires_in: timedelta | None = None,
    ) -> PresignedUpload:
        """A direct upload the store accepts only within the size range and of this type."""
        ...

    async def close(self) -> None:
        """Release connections (the process is stopping)."""
        ...


def check_key(key: str) -> str:
    """A key S3 and every compatible store accept, or InvalidObjectRequest."""
    if not key or key.startswith("/"):
        raise InvalidObjectRequest(f"invalid object key {key!r}: empty or starting with '/'")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidObjectRequest(f"object key longer than {MAX_KEY_BYTES} bytes")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidObjectRequest(f"invalid object key {key!r}: control characters")
    return key


MAX_METADATA_BYTES = 2048  # S3's limit on user metadata, keys and values together


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as S3 stores it (keys lower-cased), or InvalidObjectRequest: it travels
    in HTTP headers, so only printable ASCII fits."""
    checked = {key.lower(): value for key, value in (metadata or {}).items()}
    for key, value in checked.items():
        if not key or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in key):
            raise InvalidObjectRequest(f"metadata key {key!r}: letters, digits, '-', '_', '.'")
        if not all(" " <= c <= "~" for c in value):
            raise InvalidObjectRequest(f"metadata {key!r}: only printable ASCII is stored")
    if sum(len(k) + len(v) for k, v in checked.items()) > MAX_METADATA_BYTES:
        raise InvalidObjectRequest(f"metadata larger than {MAX_METADATA_BYTES} bytes")
    return checked


def check_expiry(expires_in: timedelta) -> int:
    """The expiry in whole seconds, within what a SigV4 signature can carry."""
    seconds = int(expires_in.total_seconds())
    if not 1 <= seconds <= MAX_PRESIGN_EXPIRY.total_seconds():
        raise InvalidObjectRequest(
            f"presigned expiry must be between 1 s and {MAX_PRESIGN_EXPIRY}, not {expires_in}"
        )
    return seconds
