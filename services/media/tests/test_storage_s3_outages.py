"""The S3 adapter when the store goes away for real: through a fault proxy that refuses, cuts or
blackholes connections, and by stopping the weed server itself. Each outage is reported as
StorageUnavailable within the bound the settings promise, and the same adapter works again
once the store is back. A failed upload leaves no object."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from devkit.faultproxy import FaultProxy
from devkit.s3server import S3Server
from events.testing import wait_for
from media.adapters.s3 import S3Storage
from media.storage import InvalidObjectRequest, ObjectMissing, StorageUnavailable
from media.storage_settings import MIB, S3Settings
from media.testing import s3_settings_for

ProxyFactory = Callable[[str, int], FaultProxy]


@pytest.fixture
def proxy(fault_proxy: ProxyFactory, s3_server: S3Server) -> FaultProxy:
    return fault_proxy(s3_server.host, s3_server.port)


@pytest.fixture
def proxied_settings(s3_settings: S3Settings, proxy: FaultProxy) -> S3Settings:
    return s3_settings.model_copy(update={"endpoint_url": f"http://{proxy.address}"})


@pytest.fixture
async def proxied(proxied_settings: S3Settings) -> AsyncIterator[S3Storage]:
    async with S3Storage(proxied_settings) as storage:
        await storage.ensure_bucket()
        await storage.put_bytes("kept", b"survives", content_type="text/plain")
        yield storage


def files_in(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


async def fails_within(bound_s: float, operation: Awaitable[object]) -> str:
    """Await `operation`; it must raise StorageUnavailable within `bound_s` seconds."""
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as failure:
        await operation
    elapsed = time.monotonic() - started
    # The slack is the event loop's: the adapter's own deadline is the bound itself.
    assert elapsed <= bound_s + 0.5, f"took {elapsed:.2f}s, promised {bound_s:.1f}s"
    return str(failure.value)


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_an_unreachable_store_is_reported_in_time_and_recovers(
    proxied: S3Storage, proxy: FaultProxy, fault: str
) -> None:
    getattr(proxy, fault)()
    bound = proxied.settings.outage_reported_within_s()
    await fails_within(bound, proxied.head("kept"))
    await fails_within(bound, proxied.put_bytes("new", b"x", content_type="text/plain"))
    proxy.restore()
    assert (await proxied.head("kept")).size == len(b"survives")  # the same client, again


async def test_a_stalled_upload_body_is_bounded_too(
    proxied_settings: S3Settings, proxy: FaultProxy
) -> None:
    # Bigger than the socket buffers: the write itself stalls, where no read timeout applies.
    settings = proxied_settings.model_copy(update={"min_upload_rate": 4 * MIB})
    body = os.urandom(6 * MIB)
    async with S3Storage(settings) as storage:
        proxy.blackhole()
        await fails_within(
            settings.outage_reported_within_s(len(body)),
            storage.put_bytes("stalled", body, content_type="application/octet-stream"),
        )
        proxy.restore()
        with pytest.raises(ObjectMissing):
            await storage.head("stalled")


async def test_a_download_cut_midway_leaves_no_file(
    proxied: S3Storage, proxy: FaultProxy, tmp_path: Path
) -> None:
    await proxied.put_bytes("movie", os.urandom(4 * MIB), content_type="video/mp4")
    target = tmp_path / "movie"
    proxy.delay(0.02)  # 64 KiB every 20 ms: the download takes a while
    download = asyncio.create_task(proxied.download("movie", target))
    before = proxy.stats.bytes_down
    await wait_for(lambda: proxy.stats.bytes_down > before + MIB, message="download started")
    proxy.cut()
    with pytest.raises(StorageUnavailable):
        await download
    assert files_in(tmp_path) == []
    proxy.restore()
    assert (await proxied.download("movie", target)).size == 4 * MIB


async def test_a_multipart_upload_cut_off_leaves_no_object(
    proxied: S3Storage, proxy: FaultProxy, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * MIB))
    proxy.delay(0.01)
    upload = asyncio.create_task(proxied.put_file("big", source, content_type="image/tiff"))
    await wait_for(lambda: proxy.stats.bytes_up > 2 * MIB, message="upload started")
    proxy.refuse()  # the parts fail, and so does the abort: the parts linger, unseen
    with pytest.raises(StorageUnavailable):
        await upload
    proxy.restore()
    with pytest.raises(ObjectMissing):
        await proxied.head("big")


async def test_a_multipart_upload_that_fails_is_aborted(
    proxied_settings: S3Settings,
    proxy: FaultProxy,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    source = tmp_path / "shrinking.bin"
    source.write_bytes(os.urandom(12 * MIB))
    settings = proxied_settings.model_copy(update={"upload_concurrency": 1})
    proxy.delay(0.01)  # part 1 takes most of a second: the file shrinks meanwhile
    async with S3Storage(settings) as storage:
        await storage.ensure_bucket()
        upload = asyncio.create_task(storage.put_file("shrinking", source, content_type="a/b"))
        await wait_for(lambda: proxy.stats.bytes_up > MIB, message="part 1 under way")
        os.truncate(source, 6 * MIB)  # part 2 can no longer be read whole
        with pytest.raises(InvalidObjectRequest, match="shrank"):
            await upload
        with pytest.raises(ObjectMissing):
            await storage.head("shrinking")
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_bucket)
    assert not uploads.get("Uploads")  # aborted: no parts left behind


async def test_parts_go_up_side_by_side_but_no_more_than_configured(
    proxied_settings: S3Settings, proxy: FaultProxy, tmp_path: Path
) -> None:
    source = tmp_path / "parts.bin"
    source.write_bytes(os.urandom(20 * MIB))  # four parts of 5 MiB
    settings = proxied_settings.model_copy(update={"upload_concurrency": 2})
    proxy.delay(0.002)  # slow enough that parts overlap
    async with S3Storage(settings) as storage:
        stored = await storage.put_file("parts", source, content_type="image/png")
    assert stored.etag.endswith("-4")
    assert proxy.stats.peak == 2


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[S3Server]:
    with S3Server(tmp_path / "s3") as server:
        yield server


async def test_a_stopped_server_is_unavailable_and_a_restarted_one_has_the_data(
    own_server: S3Server,
) -> None:
    settings = s3_settings_for(own_server, "restarts")
    async with S3Storage(settings) as storage:
        await storage.ensure_bucket()
        await storage.put_bytes("photo", b"jpeg bytes", content_type="image/jpeg")

        await own_server.astop()
        bound = settings.outage_reported_within_s()
        message = await fails_within(bound, storage.head("photo"))
        assert own_server.endpoint_url.removeprefix("http://") in message
        await fails_within(bound, storage.put_bytes("other", b"x", content_type="text/plain"))

        await own_server.arestart()
        head = await storage.head("photo")
        assert (head.size, head.content_type) == (len(b"jpeg bytes"), "image/jpeg")
        await storage.put_bytes("other", b"x", content_type="text/plain")
