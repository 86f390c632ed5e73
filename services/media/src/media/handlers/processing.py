"""media.process_upload: the worker turns an original into its variants and stores them.

Download the original, render every size in the process pool (never on the event loop), upload
each variant under a key of the event's own (`variants/<media>/<event>/<name>`: a redelivery
overwrites, never duplicates), then record the variants, mark the media ready and publish
media.processed.v1 in one transaction with the inbox row. Temporary files go whatever happens.
Storage down: retried on the MEDIA ladder; given up: media.failed.v1 from the dead-letter hook.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from events import Delivery, PermanentError, get_logger
from events.contracts import MediaFailedV1, MediaProcessedV1, MediaUploadedV1, MediaVariant
from media.config import Settings
from media.handlers.common import UowFactory
from media.imaging import ImagingError
from media.imaging_pool import ImagingPool
from media.models import Variant
from media.storage import ObjectMissing, ObjectStorage
from media.tempfiles import TempArea
from servicekit.clock import Clock

log = get_logger("media.processing")

PROCESSING_SECONDS = Histogram(
    "media_processing_seconds",
    "From the start of processing an upload to its variants stored.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
PROCESSED = Counter("media_processed_total", "Uploads processed, by outcome.", ["outcome"])


async def process_upload(
    delivery: Delivery[MediaUploadedV1],
    *,
    uow: UowFactory,
    storage: ObjectStorage,
    pool: ImagingPool,
    temp: TempArea,
    settings: Settings,
    clock: Clock,
) -> None:
    data = delivery.data
    async with uow() as tx:
        media = await tx.media.get(data.media_id)
    if media is None or media.status == "deleted":
        log.info("upload gone before processing", media_id=str(data.media_id))
        return
    started = time.perf_counter()
    stored: list[Variant] = []
    with temp.work() as folder:
        original = folder / "original"
        try:
            await storage.download(media.original_key, original)
        except ObjectMissing as exc:
            raise PermanentError(f"the original {media.original_key} is not in storage") from exc
        out = folder / "variants"
        out.mkdir()
        try:
            rendered = await pool.render(original, out, settings.imaging.spec())
        except ImagingError as exc:
            if exc.retryable:
                raise
            raise PermanentError(f"{type(exc).__name__}: {exc}") from exc
        for variant in rendered:
            key = f"variants/{media.id}/{delivery.event.id}/{variant.name}"
            await storage.put_file(key, variant.path, content_type=variant.content_type)
            stored.append(
                Variant(
                    media_id=media.id,
                    name=variant.name,
                    width=variant.width,
                    height=variant.height,
                    content_type=variant.content_type,
                    size_bytes=variant.size_bytes,
                    object_key=key,
                )
            )
    now = clock.now()
    async with uow() as tx:
        if not await tx.claim(delivery):
            return  # a concurrent copy recorded it; our uploads overwrote the same keys
        locked = await tx.media.get(media.id, lock=True)
        if locked is None or locked.status == "deleted":
            await tx.commit()
            return
        await tx.media.replace_variants(locked.id, stored)
        locked.status, locked.failure_reason = "ready", None
        locked.version += 1
        locked.processed_at = locked.updated_at = now
        smallest = min(stored, key=lambda v: (v.width, v.content_type != "image/webp"))
        await tx.publish(
            MediaProcessedV1(
                media_id=locked.id,
                owner_id=locked.owner_id,
                portfolio_id=locked.portfolio_id,
                item_id=locked.item_id,
                version=locked.version,
                variants=[
                    MediaVariant(
                        name=v.name,
                        width=v.width,
                        height=v.height,
                        content_type=v.content_type,
                        size_bytes=v.size_bytes,
                        object_key=v.object_key,
                    )
                    for v in stored
                ],
                thumbnail_key=smallest.object_key,
                processed_at=now,
            ),
            subject=locked.id,
        )
        await tx.commit()
    PROCESSING_SECONDS.observe(time.perf_counter() - started)
    PROCESSED.labels("ready").inc()
    log.info("media processed", media_id=str(media.id), variants=len(stored))


async def give_up(
    delivery: Delivery[MediaUploadedV1],
    error: BaseException,
    reason: str,
    *,
    uow: UowFactory,
    clock: Clock,
) -> None:
    """The bus gave up on this upload: the media is failed and media.failed.v1 says why.

    The delivery is not claimed: a replay of the parked message, once storage is back,
    processes it and the media becomes ready with a newer version.
    """
    now = clock.now()
    async with uow() as tx:
        media = await tx.media.get(delivery.data.media_id, lock=True)
        if media is None or media.status in ("ready", "deleted"):
            return
        media.status = "failed"
        media.failure_reason = f"{reason}: {type(error).__name__}: {error}"[:500]
        media.version += 1
        media.updated_at = now
        await tx.publish(
            MediaFailedV1(
                media_id=media.id,
                owner_id=media.owner_id,
                portfolio_id=media.portfolio_id,
                item_id=media.item_id,
                version=media.version,
                reason=media.failure_reason,
                failed_at=now,
            ),
            subject=media.id,
        )
        await tx.commit()
    PROCESSED.labels("failed").inc()
    log.error("media processing given up", media_id=str(media.id), reason=reason)
