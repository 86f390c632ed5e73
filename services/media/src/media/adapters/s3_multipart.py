"""A multipart upload from a file: parts read from disk one at a time per worker, a bounded
number in flight, and the upload aborted on any failure so no object appears half-written."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from events.logs import get_logger
from media.adapters.s3_errors import translated
from media.storage import InvalidObjectRequest
from media.storage_settings import S3Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = get_logger("media.storage")

MAX_PARTS = 10_000  # S3's limit per upload


def part_size_for(size: int, configured: int) -> int:
    """The configured part size, raised so the file fits in MAX_PARTS parts."""
    return max(configured, -(-size // MAX_PARTS))


class PartFile(io.RawIOBase):
    """One part of a file, read from disk as the request body goes out: a part is never held
    whole in memory (seekable, so signing and checksums can read it and start over)."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._start, self._length, self._position = offset, length, 0
        self._file.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._length - self._position)
        if wanted <= 0:
            return 0
        data = self._file.read(wanted)
        if not data:
            raise InvalidObjectRequest(f"{self._file.name} shrank while it was being uploaded")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, min(self._length, base + offset))
        self._file.seek(self._start + self._position)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._file.close()
        super().close()


async def upload_in_parts(
    s3: S3Client,
    settings: S3Settings,
    key: str,
    path: Path,
    size: int,
    *,
    content_type: str,
    metadata: dict[str, str],
) -> str:
    """Upload `path` as `key` in parts; returns the ETag of the completed object."""
    bucket = settings.bucket
    part_size = part_size_for(size, settings.part_size)
    count = -(-size // part_size)
    with translated():
        created = await s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, Metadata=metadata
        )
    upload_id = created["UploadId"]
    done: dict[int, str] = {}
    numbers = iter(range(1, count + 1))  # shared: each worker takes the next part number

    async def worker() -> None:
        for number in numbers:
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            with PartFile(path, offset, length) as body, translated():
                # A bound on the whole part, retries included: a stalled write never times out.
                async with asyncio.timeout(settings.outage_reported_within_s(length)):
                    answer = await s3.upload_part(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=body,
                        ContentLength=length,
                    )
            done[number] = answer["ETag"]

    try:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(settings.upload_concurrency, count)):
                    group.create_task(worker())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the first failure is the one to report
        parts: list[CompletedPartTypeDef] = [
            {"PartNumber": n, "ETag": done[n]} for n in range(1, count + 1)
        ]
        with translated():
            completed = await s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
    except BaseException:
        # Shielded: a cancelled upload is aborted too, or its parts linger invisibly.
        await asyncio.shield(_abort(s3, bucket, key, upload_id))
        raise
    return str(completed.get("ETag", "")).strip('"')


async def _abort(s3: S3Client, bucket: str, key: str, upload_id: str) -> None:
    try:
        await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:
        # The store is down: the parts stay invisible (no object exists under the key) until a
        # bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them.
        log.warning("multipart upload not aborted", key=key, upload_id=upload_id, error=repr(exc))
