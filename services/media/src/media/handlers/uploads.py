"""Uploads: validated by content, stored under `originals/`, then queued for processing.

The original is stored before the row that names it commits, and removed again if that commit
fails: a failed step leaves neither a row without its object nor (for long) an object without
its row. The row and media.uploaded.v1 commit together (outbox).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from pathlib import Path

from events import get_logger
from events.contracts import MediaUploadedV1
from media.config import Settings
from media.errors import (
    ContentRefused,
    MediaNotFound,
    NotPending,
    StorageDown,
    UploadNotFound,
    UploadTooLarge,
)
from media.handlers.common import UowFactory, answer, editable_item
from media.imaging import ImageInfo, ImagingError
from media.imaging_pool import ImagingPool
from media.models import DirectUpload, Media, MediaPublic
from media.storage import ObjectMissing, ObjectStorage, StorageUnavailable
from media.tempfiles import TempArea
from media.upload_stream import Received
from servicekit.clock import Clock

log = get_logger("media.uploads")


async def check_upload(caller: uuid.UUID, item_id: uuid.UUID, *, uow: UowFactory) -> None:
    """Before a byte of the body is read: may the caller change this item's image?"""
    async with uow() as tx:
        await editable_item(tx, item_id, caller)


async def _identify(pool: ImagingPool, path: Path) -> ImageInfo:
    try:
        return await pool.identify(path)
    except ImagingError as exc:
        if exc.retryable:
            raise
        raise ContentRefused(exc) from exc


def _uploaded(media: Media, now: datetime) -> MediaUploadedV1:
    return MediaUploadedV1(
        media_id=media.id,
        owner_id=media.owner_id,
        portfolio_id=media.portfolio_id,
        item_id=media.item_id,
        version=media.version,
        content_type=media.content_type,
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        object_key=media.original_key,
        checksum_sha256=media.checksum_sha256 or "0" * 64,
        uploaded_at=now,
    )


async def upload_media(
    caller: uuid.UUID,
    item_id: uuid.UUID,
    received: Received,
    *,
    uow: UowFactory,
    storage: ObjectStorage,
    pool: ImagingPool,
    clock: Clock,
) -> MediaPublic:
    info = await _identify(pool, received.path)
    media_id = uuid.uuid4()
    key = f"originals/{media_id}"
    try:
        await storage.put_file(key, received.path, content_type=info.mime_type)
    except StorageUnavailable as exc:
        raise StorageDown() from exc
    try:
        now = clock.now()
        async with uow() as tx:
            _, portfolio = await editable_item(tx, item_id, caller)  # still allowed?
            media = Media(
                id=media_id,
                owner_id=portfolio.owner_id,
                uploader_id=caller,
                portfolio_id=portfolio.portfolio_id,
                item_id=item_id,
                status="uploaded",
                content_type=info.mime_type,
                size_bytes=received.size,
                width=info.width,
                height=info.height,
                checksum_sha256=received.sha256,
                original_key=key,
                created_at=now,
                updated_at=now,
            )
            tx.db.add(media)
            await tx.publish(_uploaded(media, now), subject=media_id)
            await tx.commit()
    except BaseException:
        await _discard(storage, key)
        raise
    log.info("media uploaded", media_id=str(media_id), bytes=received.size)
    return await answer(media, [])


async def _discard(storage: ObjectStorage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception as exc:  # the object is orphaned; the purge of its item removes it later
        log.warning("stored original not removed after a failed upload", key=key, error=repr(exc))


async def request_direct_upload(
    caller: uuid.UUID,
    item_id: uuid.UUID,
    content_type: str,
    size_bytes: int,
    *,
    uow: UowFactory,
    storage: ObjectStorage,
    clock: Clock,
    settings: Settings,
) -> DirectUpload:
    """A presigned POST straight to storage for a large file; `complete` validates it after."""
    if size_bytes > settings.max_direct_upload_bytes:
        raise UploadTooLarge(f"Uploads are at most {settings.max_direct_upload_bytes} bytes.")
    now = clock.now()
    media_id = uuid.uuid4()
    key = f"originals/{media_id}"
    async with uow() as tx:
        _, portfolio = await editable_item(tx, item_id, caller)
        try:
            upload = await storage.presigned_upload(
                key, content_type=content_type, max_size=settings.max_direct_upload_bytes
            )
        except StorageUnavailable as exc:
            raise StorageDown() from exc
        tx.db.add(
            Media(
                id=media_id,
                owner_id=portfolio.owner_id,
                uploader_id=caller,
                portfolio_id=portfolio.portfolio_id,
                item_id=item_id,
                status="pending",
                content_type=content_type,
                original_key=key,
                created_at=now,
                updated_at=now,
            )
        )
        await tx.commit()
    return DirectUpload(
        media_id=media_id,
        url=upload.url,
        fields=dict(upload.fields),
        max_size=upload.max_size,
        expires_at=upload.expires_at,
        complete=f"/media/{media_id}/complete",
    )


async def complete_direct_upload(
    caller: uuid.UUID,
    media_id: uuid.UUID,
    *,
    uow: UowFactory,
    storage: ObjectStorage,
    pool: ImagingPool,
    temp: TempArea,
    clock: Clock,
) -> MediaPublic:
    """Check what the store received (by content, as an upload through the API is), then queue
    it; a file that is not an acceptable image is deleted from the store."""
    async with uow() as tx:
        media = await tx.media.get(media_id)
        if media is None or media.uploader_id != caller:
            raise MediaNotFound()
        if media.status != "pending":
            raise NotPending()
    with temp.work() as folder:
        local = folder / "original"
        try:
            await storage.download(media.original_key, local)
        except ObjectMissing as exc:
            raise UploadNotFound() from exc
        except StorageUnavailable as exc:
            raise StorageDown() from exc
        try:
            info = await _identify(pool, local)
        except ContentRefused:
            await _discard(storage, media.original_key)
            raise
        received = Received(local, size=local.stat().st_size)
        received.sha256 = _sha256(local)
    now = clock.now()
    async with uow() as tx:
        locked = await tx.media.get(media_id, lock=True)
        if locked is None or locked.status != "pending":
            raise NotPending()
        locked.status, locked.content_type = "uploaded", info.mime_type
        locked.size_bytes, locked.width, locked.height = received.size, info.width, info.height
        locked.checksum_sha256, locked.updated_at = received.sha256, now
        await tx.publish(_uploaded(locked, now), subject=media_id)
        await tx.commit()
    return await answer(locked, [])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
