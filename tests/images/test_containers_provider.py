"""The containers provider on the engine here: it boots every backend from the images this
machine has (the local stand-ins, no official image being present), knows each is ready by
speaking its protocol, and hands out servers a run can really use: its own virtual host on the
broker, databases, a Redis, a bucket behind keys that are checked. Meilisearch, which has no
image here, is left out with a note saying search uses PostgreSQL.

Needs the engine (`scripts/docker-engine.sh`) and the stand-ins (`just images-local`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import asyncpg
import boto3
import botocore.exceptions
import pytest
from redis.asyncio import Redis

from devkit import containers, providers
from devkit.images.standins import NotReady

REQUIRED = ("rabbitmq", "postgres", "redis", "s3")


@pytest.fixture(scope="module")
def provider_infra(
    engine: Any, require_image: Callable[[str], str]
) -> Iterator[tuple[providers.ContainersProvider, providers.Infra]]:
    for name in REQUIRED:
        require_image(name)
    for variable in [k for k in os.environ if k.startswith("E2E_IMAGE_")]:
        del os.environ[variable]  # the provider's own choice is under test (restored below)
    provider = providers.ContainersProvider(pull=False)
    try:
        infra = provider.start()
    except providers.ProviderUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield provider, infra
    provider.stop()
    leftover = engine.containers.list(
        all=True, filters={"label": f"{containers.LABEL}={provider.run_label}"}
    )
    assert leftover == [], f"containers left behind: {[c.name for c in leftover]}"


def test_every_backend_runs_the_image_this_machine_has(
    provider_infra: tuple[providers.ContainersProvider, providers.Infra],
) -> None:
    _, infra = provider_infra
    assert infra.provider == "containers"
    notes = "\n".join(infra.notes)
    for name in REQUIRED:
        chosen = containers.BACKENDS[name]
        official_here = f"{name}: {chosen.official} (official)" in notes
        assert official_here or f"{name}: {chosen.local} (local stand-in)" in notes, notes
    assert "search uses PostgreSQL full-text search" in notes or infra.meilisearch_url


async def test_a_run_gets_its_own_vhost_on_the_broker(
    provider_infra: tuple[providers.ContainersProvider, providers.Infra],
) -> None:
    provider, infra = provider_infra
    provider.create_vhost("provider-test")
    try:
        assert "provider-test" in provider.vhosts()
        url = infra.amqp_url.rstrip("/") + "/provider-test"
        connection = await aio_pika.connect(url, timeout=10)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(
                "q", durable=True, arguments={"x-queue-type": "quorum"}
            )
            await channel.default_exchange.publish(aio_pika.Message(b"hello"), routing_key="q")
            message = await queue.get(timeout=10, fail=True)
            assert message is not None and message.body == b"hello"
            await message.ack()
    finally:
        provider.delete_vhost("provider-test")
    assert "provider-test" not in provider.vhosts()


async def test_a_run_gets_its_own_databases_with_pg_trgm(
    provider_infra: tuple[providers.ContainersProvider, providers.Infra],
) -> None:
    provider, infra = provider_infra
    run = await providers.allocate(provider, infra, ["auth", "search"])
    try:
        conn = await asyncpg.connect(run.databases["search"])
        try:
            assert await conn.fetchval("SHOW fsync") == "off"  # a throwaway server, fast
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            assert await conn.fetchval("SELECT similarity('portfolio', 'portfolios')") > 0.5
        finally:
            await conn.close()
        client = providers._s3_client(run.s3)
        client.put_object(Bucket=run.bucket, Key="k", Body=b"v")
        assert client.get_object(Bucket=run.bucket, Key="k")["Body"].read() == b"v"
    finally:
        await providers.release(provider, infra, run)
    conn = await asyncpg.connect(infra.postgres_url)
    try:
        names = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()
    assert not any(name.startswith(f"e2e_{run.run_id}_") for name in names)


async def test_redis_answers_commands(
    provider_infra: tuple[providers.ContainersProvider, providers.Infra],
) -> None:
    _, infra = provider_infra
    client = Redis.from_url(infra.redis_url)
    try:
        await client.set("provider-test", "1", ex=10)
        assert await client.get("provider-test") == b"1"
    finally:
        await client.aclose()


def test_s3_checks_the_keys_it_was_given(
    provider_infra: tuple[providers.ContainersProvider, providers.Infra],
) -> None:
    _, infra = provider_infra
    assert infra.s3.access_key not in ("minioadmin", "portfolio")  # not the development keys
    wrong = boto3.client(
        "s3",
        endpoint_url=infra.s3.endpoint_url,
        aws_access_key_id=infra.s3.access_key,
        aws_secret_access_key="not-the-secret",
        region_name=infra.s3.region,
    )
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        wrong.list_buckets()
    assert refused.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied")


def test_closing_a_vhosts_connections_is_seen_by_its_clients(
    provider_infra: tuple[providers.ContainersProvider, providers.Infra],
) -> None:
    provider, infra = provider_infra
    provider.create_vhost("cut-test")

    async def connect_and_cut() -> bool:
        connection = await aio_pika.connect(infra.amqp_url.rstrip("/") + "/cut-test", timeout=10)
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        await asyncio.to_thread(provider.close_connections, "cut-test")
        await asyncio.wait_for(closed.wait(), timeout=20)
        return closed.is_set()

    try:
        assert asyncio.run(connect_and_cut())
    finally:
        provider.delete_vhost("cut-test")


def test_a_backend_that_exits_fails_at_once_with_its_log(
    engine: Any, require_image: Callable[[str], str], testcontainers_offline: None
) -> None:
    """Readiness is the protocol answering, and a container that dies is reported with its
    output rather than waited on until the deadline (postgres refuses to start unconfigured)."""
    choice = containers.Choice(
        containers.BACKENDS["postgres"], require_image("postgres"), "test", present=True
    )
    with pytest.raises(NotReady, match="POSTGRES_PASSWORD"):
        containers.start_backend(choice, {}, run_label="exits-test")
    leftover = engine.containers.list(all=True, filters={"label": f"{containers.LABEL}=exits-test"})
    assert leftover == []  # removed when it failed
