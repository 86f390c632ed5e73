"""Direct uploads from a browser: a presigned POST whose signed policy bounds the size (the
content-length-range condition) and pins the content type and the key. SeaweedFS enforces all
three (tests/test_storage_s3_direct_upload.py), as AWS and MinIO document; a presigned PUT
could only pin one exact size, so the client would have to announce it first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from media.adapters.s3_errors import translated
from media.storage import InvalidObjectRequest, PresignedUpload, check_expiry
from media.storage_settings import MAX_PART_SIZE

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

MAX_POST_SIZE = MAX_PART_SIZE  # one POST upload carries at most 5 GiB


async def presigned_post(
    s3: S3Client,
    bucket: str,
    key: str,
    content_type: str,
    min_size: int,
    max_size: int,
    expires_in: timedelta,
) -> PresignedUpload:
    if not 0 <= min_size <= max_size <= MAX_POST_SIZE:
        raise InvalidObjectRequest(
            f"upload size range [{min_size}, {max_size}] must lie within [0, {MAX_POST_SIZE}]"
        )
    if not content_type or "/" not in content_type:
        raise InvalidObjectRequest(f"not a media type: {content_type!r}")
    seconds = check_expiry(expires_in)
    with translated():
        post = await s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", min_size, max_size],
            ],
            ExpiresIn=seconds,
        )
    return PresignedUpload(
        url=str(post["url"]),
        fields={name: str(value) for name, value in post["fields"].items()},
        key=key,
        content_type=content_type,
        max_size=max_size,
        expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
    )
