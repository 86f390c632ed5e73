"""The object store over aioboto3: one long-lived client per process, bounded timeouts and
retries, and the store's failures translated into the port's typed errors."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from events.logs import get_logger
from media.adapters.s3_errors import error_code, translated
from media.adapters.s3_multipart import upload_in_parts
from media.adapters.s3_presign import presigned_post
from media.storage import (
    InvalidObjectRequest,
    ObjectInfo,
    PresignedUpload,
    StorageMisconfigured,
    StorageUnavailable,
    check_expiry,
    check_key,
    check_metadata,
)
from media.storage_settings import S3Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger("media.storage")

_DOWNLOAD_CHUNK = 1024 * 1024


def client_config(settings: S3Settings) -> AioConfig:
    return AioConfig(
        region_name=settings.region,
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        max_pool_connections=settings.max_pool_connections,
    )


class S3Storage:
    """One bucket, through a client opened on first use and kept until close()."""

    def __init__(self, settings: S3Settings, session: aioboto3.Session | None = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        access, secret = (
            settings.access_key.get_secret_value(),
            settings.secret_key.get_secret_value(),
        )
        self._session = session or aioboto3.Session(
            aws_access_key_id=access or None,  # both empty: the default credential chain
            aws_secret_access_key=secret or None,
            region_name=settings.region,
        )
        self._client: S3Client | None = None
        self._client_context: Any = None
        self._opening = asyncio.Lock()

    async def _s3(self) -> S3Client:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    context = self._session.client(
                        "s3",
                        endpoint_url=self.settings.endpoint_url,
                        config=client_config(self.settings),
                    )
                    self._client = await context.__aenter__()
                    self._client_context = context
        assert self._client is not None
        return self._client

    async def close(self) -> None:
        context, self._client_context, self._client = self._client_context, None, None
        if context is not None:
            await context.__aexit__(None, None, None)

    async def __aenter__(self) -> Self:
        await self._s3()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def ensure_bucket(self) -> None:
        s3 = await self._s3()
        with translated():
            try:
                await s3.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
            log.info("creating the media bucket", bucket=self.bucket)
            extra: dict[str, Any] = {}
            if self.settings.region != "us-east-1":  # AWS refuses an explicit us-east-1
                extra["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.region}
            try:
                await s3.create_bucket(Bucket=self.bucket, **extra)
            except ClientError as exc:
                code = error_code(exc)
                if code == "BucketAlreadyExists":
                    raise StorageMisconfigured(f"bucket {self.bucket!r} is someone else's") from exc
                if code != "BucketAlreadyOwnedByYou":  # else another replica was first
                    raise

    async def put_bytes(
        self, key: str, data: bytes, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> ObjectInfo:
        check_key(key)
        meta = check_metadata(metadata)
        s3 = await self._s3()
        with translated():
            async with asyncio.timeout(self.settings.outage_reported_within_s(len(data))):
                answer = await s3.put_object(
                    Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, Metadata=meta
                )
        return ObjectInfo(key, len(data), content_type, _etag(answer), meta)

    async def put_file(
        self, key: str, path: Path, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> ObjectInfo:
        check_key(key)
        meta = check_metadata(metadata)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except OSError as exc:
            raise InvalidObjectRequest(f"cannot read {path}: {exc.strerror}") from exc
        if size < self.settings.multipart_threshold:
            # Below the threshold the whole file is one request body (bounded memory).
            data = await asyncio.to_thread(path.read_bytes)
            return await self.put_bytes(key, data, content_type=content_type, metadata=meta)
        etag = await upload_in_parts(
            await self._s3(),
            self.settings,
            key,
            path,
            size,
            content_type=content_type,
            metadata=meta,
        )
        return ObjectInfo(key, size, content_type, etag, meta)

    async def head(self, key: str) -> ObjectInfo:
        check_key(key)
        s3 = await self._s3()
        with translated(key):
            answer = await s3.head_object(Bucket=self.bucket, Key=key)
        return ObjectInfo(
            key,
            int(answer["ContentLength"]),
            str(answer.get("ContentType") or "application/octet-stream"),
            _etag(answer),
            dict(answer.get("Metadata") or {}),
        )

    async def download(self, key: str, path: Path) -> ObjectInfo:
        check_key(key)
        s3 = await self._s3()
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with translated(key):
                answer = await s3.get_object(Bucket=self.bucket, Key=key)
                async with answer["Body"]:  # gives the connection back to the pool
                    file = await asyncio.to_thread(partial.open, "wb")
                    try:
                        # iter_chunks checks the length at the end: a cut body raises.
                        async for chunk in answer["Body"].iter_chunks(_DOWNLOAD_CHUNK):
                            await asyncio.to_thread(file.write, chunk)
                    finally:
                        await asyncio.to_thread(file.close)
            await asyncio.to_thread(os.replace, partial, path)  # appears only when complete
        finally:
            partial.unlink(missing_ok=True)
        return ObjectInfo(
            key,
            int(answer["ContentLength"]),
            str(answer.get("ContentType") or "application/octet-stream"),
            _etag(answer),
            dict(answer.get("Metadata") or {}),
        )

    async def delete(self, key: str) -> None:
        check_key(key)
        s3 = await self._s3()
        with translated():
            await s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix.strip("/"):
            raise InvalidObjectRequest("refusing to delete by an empty prefix (the whole bucket)")
        s3 = await self._s3()
        deleted = 0
        with translated():
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            async for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", []) if "Key" in item]
                if not keys:
                    continue
                answer = await s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": keys, "Quiet": True},  # type: ignore[typeddict-item]
                )
                if errors := answer.get("Errors"):
                    first = errors[0]
                    raise StorageUnavailable(
                        f"{len(errors)} of {len(keys)} objects under {prefix!r} not deleted "
                        f"(first: {first.get('Key')}: {first.get('Code')} {first.get('Message')})"
                    )
                deleted += len(keys)
        return deleted

    async def presigned_get(self, key: str, *, expires_in: timedelta | None = None) -> str:
        check_key(key)
        default = self.settings.presign_get_expiry
        seconds = check_expiry(default if expires_in is None else expires_in)
        s3 = await self._s3()
        with translated():
            return await s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
            )

    async def presigned_upload(
        self,
        key: str,
        *,
        content_type: str,
        max_size: int,
        min_size: int = 1,
        expires_in: timedelta | None = None,
    ) -> PresignedUpload:
        check_key(key)
        expiry = self.settings.presign_upload_expiry if expires_in is None else expires_in
        return await presigned_post(
            await self._s3(), self.bucket, key, content_type, min_size, max_size, expiry
        )


def _etag(answer: Mapping[str, Any]) -> str:
    return str(answer.get("ETag", "")).strip('"')
