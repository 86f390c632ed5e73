"""The S3 adapter on a real SeaweedFS server: objects in and out, multipart, deletes, and what
the server enforces about presigned URLs and uploads."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from devkit.s3server import S3Server
from events.testing import wait_for
from media.adapters.s3 import S3Storage
from media.adapters.s3_multipart import MAX_PARTS, part_size_for
from media.storage import (
    InvalidObjectRequest,
    ObjectMissing,
    ObjectStorage,
    StorageMisconfigured,
)
from media.storage_settings import MIB, S3Settings


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_the_adapter_is_the_port(storage: S3Storage) -> None:
    port: ObjectStorage = storage  # checked by mypy; here, that nothing is missing at run time
    assert callable(port.presigned_upload)


async def test_ensure_bucket_creates_it_once(
    storage: S3Storage, s3_server: S3Server, s3_bucket: str
) -> None:
    assert s3_server.bucket_exists(s3_bucket)
    await storage.ensure_bucket()  # again: nothing to do, no error


async def test_bytes_in_head_download_and_delete(storage: S3Storage, tmp_path: Path) -> None:
    stored = await storage.put_bytes(
        "originals/a.txt", b"hello", content_type="text/plain", metadata={"Owner-Id": "u-1"}
    )
    assert (stored.size, stored.metadata) == (5, {"owner-id": "u-1"})

    head = await storage.head("originals/a.txt")
    assert (head.size, head.content_type, head.etag) == (5, "text/plain", stored.etag)
    assert head.metadata == {"owner-id": "u-1"}

    target = tmp_path / "a.txt"
    downloaded = await storage.download("originals/a.txt", target)
    assert target.read_bytes() == b"hello"
    assert downloaded.size == 5
    assert files_in(tmp_path) == [target]  # no partial file left beside it

    await storage.delete("originals/a.txt")
    with pytest.raises(ObjectMissing):
        await storage.head("originals/a.txt")
    await storage.delete("originals/a.txt")  # deleting again is fine


async def test_a_missing_object_is_typed_and_downloads_nothing(
    storage: S3Storage, tmp_path: Path
) -> None:
    with pytest.raises(ObjectMissing) as missing:
        await storage.head("nothing/here")
    assert missing.value.key == "nothing/here"
    with pytest.raises(ObjectMissing):
        await storage.download("nothing/here", tmp_path / "out")
    assert files_in(tmp_path) == []


async def test_a_small_file_goes_up_in_one_request(storage: S3Storage, tmp_path: Path) -> None:
    source = random_file(tmp_path / "small.bin", 300_000)
    stored = await storage.put_file("small.bin", source, content_type="image/jpeg")
    assert "-" not in stored.etag  # a single PUT: a plain MD5 ETag
    await storage.download("small.bin", tmp_path / "back.bin")
    assert sha256(tmp_path / "back.bin") == sha256(source)


async def test_a_file_above_the_threshold_goes_up_in_parts(
    storage: S3Storage, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "big.bin", 12 * MIB)  # threshold and parts: 5 MiB
    stored = await storage.put_file(
        "originals/big.bin", source, content_type="image/tiff", metadata={"sha": "x"}
    )
    assert stored.etag.endswith("-3")  # S3's multipart ETag: three parts
    head = await storage.head("originals/big.bin")
    assert (head.size, head.content_type, head.metadata) == (12 * MIB, "image/tiff", {"sha": "x"})
    await storage.download("originals/big.bin", tmp_path / "back.bin")
    assert sha256(tmp_path / "back.bin") == sha256(source)


def test_development_credentials_are_recognised(s3_settings: S3Settings) -> None:
    assert S3Settings().has_development_credentials()
    assert not s3_settings.model_copy(
        update={"access_key": SecretStr("prod-key"), "secret_key": SecretStr("prod-secret")}
    ).has_development_credentials()


def test_part_size_grows_so_any_file_fits_in_ten_thousand_parts() -> None:
    assert part_size_for(12 * MIB, 5 * MIB) == 5 * MIB
    huge = 100 * 1024 * MIB
    assert -(-huge // part_size_for(huge, 5 * MIB)) <= MAX_PARTS


async def test_delete_prefix_removes_exactly_what_is_under_it(storage: S3Storage) -> None:
    for key in ["m/1/original", "m/1/thumb", "m/1/large/x", "m/10/original", "m/2/original"]:
        await storage.put_bytes(key, b"x", content_type="application/octet-stream")
    assert await storage.delete_prefix("m/1/") == 3
    assert await storage.delete_prefix("m/1/") == 0
    for kept in ["m/10/original", "m/2/original"]:
        assert (await storage.head(kept)).size == 1
    for bad in ["", "/", "//"]:
        with pytest.raises(InvalidObjectRequest, match="empty prefix"):
            await storage.delete_prefix(bad)


@pytest.mark.parametrize("key", ["", "/leading-slash", "a" * 1025, "tab\there"])
async def test_a_bad_key_is_refused_before_any_request(storage: S3Storage, key: str) -> None:
    with pytest.raises(InvalidObjectRequest):
        await storage.put_bytes(key, b"x", content_type="text/plain")


async def test_bad_metadata_and_a_missing_file_are_refused(
    storage: S3Storage, tmp_path: Path
) -> None:
    with pytest.raises(InvalidObjectRequest, match="ASCII"):
        await storage.put_bytes("k", b"x", content_type="text/plain", metadata={"name": "café"})
    with pytest.raises(InvalidObjectRequest, match="metadata key"):
        await storage.put_bytes("k", b"x", content_type="text/plain", metadata={"a b": "c"})
    with pytest.raises(InvalidObjectRequest, match="cannot read"):
        await storage.put_file("k", tmp_path / "absent", content_type="text/plain")


async def test_a_presigned_get_serves_the_object_and_nothing_else(storage: S3Storage) -> None:
    await storage.put_bytes("shared/p.png", b"\x89PNG...", content_type="image/png")
    url = await storage.presigned_get("shared/p.png", expires_in=timedelta(minutes=5))
    async with httpx.AsyncClient() as http:
        ok = await http.get(url)
        assert (ok.status_code, ok.content) == (200, b"\x89PNG...")
        assert ok.headers["content-type"] == "image/png"

        signature = url.rsplit("X-Amz-Signature=", 1)[1]
        forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        tampered = await http.get(url.replace(signature, forged))
        assert tampered.status_code == 403
        other_key = await http.get(url.replace("shared/p.png", "shared/q.png"))
        assert other_key.status_code == 403
        unsigned = await http.get(url.split("?", 1)[0])
        assert unsigned.status_code == 403


async def test_a_presigned_get_expires(storage: S3Storage) -> None:
    await storage.put_bytes("short/lived", b"soon gone", content_type="text/plain")
    url = await storage.presigned_get("short/lived", expires_in=timedelta(seconds=1))
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200

        async def expired() -> bool:
            return (await http.get(url)).status_code == 403

        await wait_for(expired, timeout=10, interval=0.2, message="the URL never expired")


@pytest.mark.parametrize("expiry", [timedelta(0), timedelta(days=8)])
async def test_an_expiry_a_signature_cannot_carry_is_refused(
    storage: S3Storage, expiry: timedelta
) -> None:
    with pytest.raises(InvalidObjectRequest, match="expiry"):
        await storage.presigned_get("k", expires_in=expiry)


async def test_a_wrong_secret_is_our_misconfiguration(s3_settings: S3Settings) -> None:
    settings = s3_settings.model_copy(update={"secret_key": SecretStr("wrong")})
    async with S3Storage(settings) as storage:
        with pytest.raises(StorageMisconfigured, match="403"):
            await storage.ensure_bucket()
        with pytest.raises(StorageMisconfigured):
            await storage.put_bytes("k", b"x", content_type="text/plain")


async def test_a_missing_bucket_is_our_misconfiguration(
    s3_settings: S3Settings, tmp_path: Path
) -> None:
    # A GET: SeaweedFS, unlike AWS, creates a missing bucket on a PUT by an admin identity.
    settings = s3_settings.model_copy(update={"bucket": f"absent-{uuid.uuid4().hex[:8]}"})
    async with S3Storage(settings) as storage:
        with pytest.raises(StorageMisconfigured, match="NoSuchBucket"):
            await storage.download("k", tmp_path / "k")
