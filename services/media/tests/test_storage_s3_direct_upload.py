"""Direct uploads with a presigned POST policy, against what SeaweedFS really enforces: the
content-length-range, the content type, the key and the policy's expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from events.testing import wait_for
from media.adapters.s3 import S3Storage
from media.storage import InvalidObjectRequest, ObjectMissing, PresignedUpload


async def post(upload: PresignedUpload, body: bytes, **changed_fields: str) -> httpx.Response:
    fields = {**upload.fields, **changed_fields}
    content_type = fields.get("Content-Type", "application/octet-stream")
    async with httpx.AsyncClient() as http:
        # The file must be the last form field: httpx sends data fields first.
        return await http.post(
            upload.url, data=fields, files={"file": ("upload", body, content_type)}
        )


async def test_an_upload_within_the_policy_is_stored(storage: S3Storage) -> None:
    upload = await storage.presigned_upload(
        "incoming/u1", content_type="image/png", max_size=1000, min_size=10
    )
    assert upload.expires_at > datetime.now(UTC)
    answer = await post(upload, b"p" * 500)
    assert answer.status_code == 204, answer.text
    head = await storage.head("incoming/u1")
    assert (head.size, head.content_type) == (500, "image/png")


@pytest.mark.parametrize(
    ("size", "code"), [(1001, "EntityTooLarge"), (9, "EntityTooSmall")], ids=["big", "small"]
)
async def test_a_size_outside_the_range_is_refused(
    storage: S3Storage, size: int, code: str
) -> None:
    upload = await storage.presigned_upload(
        "incoming/u2", content_type="image/png", max_size=1000, min_size=10
    )
    answer = await post(upload, b"p" * size)
    assert answer.status_code == 400
    assert code in answer.text
    with pytest.raises(ObjectMissing):
        await storage.head("incoming/u2")


async def test_another_content_type_or_key_is_refused(storage: S3Storage) -> None:
    upload = await storage.presigned_upload("incoming/u3", content_type="image/png", max_size=100)
    wrong_type = await post(upload, b"<html>", **{"Content-Type": "text/html"})
    assert wrong_type.status_code == 403
    wrong_key = await post(upload, b"png", key="incoming/elsewhere")
    assert wrong_key.status_code == 403
    for key in ("incoming/u3", "incoming/elsewhere"):
        with pytest.raises(ObjectMissing):
            await storage.head(key)


async def test_a_forged_policy_is_refused(storage: S3Storage) -> None:
    upload = await storage.presigned_upload("incoming/u4", content_type="image/png", max_size=10)
    generous = await storage.presigned_upload(
        "incoming/u4", content_type="image/png", max_size=10_000
    )
    # The bigger policy with the first one's signature: the signature covers the policy.
    answer = await post(upload, b"p" * 5000, policy=generous.fields["policy"])
    assert answer.status_code == 403
    with pytest.raises(ObjectMissing):
        await storage.head("incoming/u4")


async def test_an_expired_policy_is_refused(storage: S3Storage) -> None:
    upload = await storage.presigned_upload(
        "incoming/u5", content_type="image/png", max_size=100, expires_in=timedelta(seconds=1)
    )
    await wait_for(
        lambda: datetime.now(UTC) > upload.expires_at + timedelta(seconds=1),
        timeout=10,
        message="the policy's expiry did not pass",
    )
    answer = await post(upload, b"png")
    assert answer.status_code == 403
    assert "expired" in answer.text.lower()
    with pytest.raises(ObjectMissing):
        await storage.head("incoming/u5")


@pytest.mark.parametrize(
    ("content_type", "max_size", "min_size"),
    [("image/png", 10, 11), ("image/png", 6 * 1024**3, 1), ("png", 10, 1), ("", 10, 1)],
)
async def test_impossible_conditions_are_refused_before_signing(
    storage: S3Storage, content_type: str, max_size: int, min_size: int
) -> None:
    with pytest.raises(InvalidObjectRequest):
        await storage.presigned_upload(
            "incoming/u6", content_type=content_type, max_size=max_size, min_size=min_size
        )
