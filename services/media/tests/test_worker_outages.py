"""The worker on RabbitMQ while storage goes away: retried on the MEDIA ladder and processed once
when it is back; down past the budget, parked with media.failed.v1 and a Sentry event, then
replayed after recovery and processed once. The storage really goes away (a TCP proxy in front
of the real S3 server refuses every connection)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sentry_sdk
from prometheus_client import REGISTRY

from devkit.faultproxy import FaultProxy
from devkit.s3server import S3Server
from events.connection import connect
from events.dlq import DeadLetterQueues
from events.settings import BusSettings
from events.telemetry import init_sentry
from events.testing import SentryCapture, delivery, wait_for
from media.bootstrap import SERVICE
from media.config import Settings
from media.container import Container, build
from media.handlers.access import project_portfolio
from media.testing import portfolio_events, write_jpeg
from servicekit.testing import Outbox, TokenIssuer, api_client, running_worker

SCALE = 1 / 3000  # the MEDIA ladder (30 s .. 4 h, 12 h budget) in milliseconds to seconds


@pytest.fixture
async def worker_and_proxy(
    settings: Settings,
    s3_server: S3Server,
    bus_settings: BusSettings,
    fault_proxy: Callable[[str, int], FaultProxy],
) -> AsyncIterator[tuple[Container, FaultProxy]]:
    proxy = fault_proxy(s3_server.host, s3_server.port)
    s3 = settings.s3.model_copy(
        update={"endpoint_url": f"http://{proxy.host}:{proxy.port}", "max_attempts": 1}
    )
    bus = bus_settings.model_copy(update={"retry_time_scale": SCALE})
    worker = build(settings.model_copy(update={"s3": s3, "bus": bus}))
    async with running_worker(SERVICE, worker):
        yield worker, proxy


async def upload(container: Container, issuer: TokenIssuer, tmp_path: Path) -> uuid.UUID:
    owner = uuid.uuid4()
    _, item, events = portfolio_events(owner)
    for event in events:
        await container.bound(project_portfolio)(delivery(event, "media.portfolio_access"))
    photo = write_jpeg(tmp_path / "p.jpg", (1200, 900))
    async with api_client(SERVICE, container) as client:
        with photo.open("rb") as file:
            answer = await client.post(
                f"/media?item_id={item}",
                files={"file": ("p.jpg", file, "image/jpeg")},
                headers=issuer.bearer(owner),
            )
    assert answer.status_code == 202, answer.text
    return uuid.UUID(answer.json()["id"])


def retried() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "events_retried"
        for sample in metric.samples
        if sample.labels.get("queue") == "media.process_upload" and sample.name.endswith("_total")
    )


async def status_of(container: Container, media_id: uuid.UUID) -> tuple[str, int]:
    async with container.uow() as tx:
        media = await tx.media.get(media_id)
    assert media is not None
    return media.status, media.version


async def test_storage_cut_mid_pipeline_is_retried_then_processed_once(
    container: Container,
    worker_and_proxy: tuple[Container, FaultProxy],
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
) -> None:
    _, proxy = worker_and_proxy
    before = retried()
    proxy.refuse()
    media = await upload(container, issuer, tmp_path)  # the API stores directly; the worker cannot
    await wait_for(lambda: retried() >= before + 2, timeout=30, message="two retries scheduled")
    assert (await status_of(container, media))[0] == "uploaded"
    proxy.restore()

    async def ready() -> bool:
        return (await status_of(container, media)) == ("ready", 2)

    await wait_for(ready, timeout=60, message="processed after storage came back")
    assert (await outbox.written()).count("media.processed.v1") == 1, "processed once"


async def test_storage_down_past_the_budget_parks_it_then_a_replay_processes_it_once(
    container: Container,
    worker_and_proxy: tuple[Container, FaultProxy],
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
    bus_settings: BusSettings,
) -> None:
    worker, proxy = worker_and_proxy
    proxy.refuse()
    with SentryCapture() as sentry:
        init_sentry(sentry.dsn, service="media", environment="test")
        try:
            media = await upload(container, issuer, tmp_path)

            async def failed() -> bool:
                return (await status_of(container, media))[0] == "failed"

            await wait_for(failed, timeout=90, message="given up after the ladder")
            connection = await connect(bus_settings, "media-test-ops")
            ops = DeadLetterQueues(connection)

            async def parked() -> bool:
                return await ops.depth("media.process_upload") == 1

            await wait_for(parked, timeout=15, message="the upload reached the DLQ")
            sentry_sdk.flush(5)
            await wait_for(
                lambda: any(
                    e.get("tags", {}).get("queue") == "media.process_upload"
                    for e in sentry.events()
                ),
                timeout=10,
                message="Sentry heard of the parked upload",
            )
        finally:
            init_sentry(None, service="media", environment="test")
            sentry_sdk.init(dsn=None)
    types = await outbox.written()
    assert types.count("media.failed.v1") == 1 and "media.processed.v1" not in types
    proxy.restore()
    await ops.replay("media.process_upload", note="storage is back")

    async def ready() -> bool:
        return (await status_of(container, media)) == ("ready", 3)

    await wait_for(ready, timeout=60, message="the replay processed it")
    assert (await outbox.written()).count("media.processed.v1") == 1
    await connection.close()
    assert worker.temp.in_use() == []
