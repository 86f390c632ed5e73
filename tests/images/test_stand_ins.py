"""Each stand-in image becomes healthy by its own HEALTHCHECK and serves its protocol through a
published port, as the tests and services that connect to it need; testcontainers can run it.

Needs a container engine (`scripts/docker-engine.sh`) and the images (`scripts/images-local.sh`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import aio_pika
import asyncpg
import boto3
import botocore.exceptions
import httpx
import pytest

from devkit.images.standins import STAND_INS, wait_ready
from devkit.servers import repo_root
from tests.images.conftest import published_port, wait_healthy

LOOPBACK = ("127.0.0.1", None)  # publish on loopback, on a port the engine picks


async def test_postgres_honours_the_official_variables_and_checks_passwords(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    init_sql = repo_root() / "scripts" / "compose-databases.sql"
    container = run_container(
        require_image("postgres"),
        environment={"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "appdb"},
        ports={"5432/tcp": LOOPBACK},
        volumes={str(init_sql): {"bind": "/docker-entrypoint-initdb.d/10-dbs.sql", "mode": "ro"}},
    )
    await wait_healthy(container)
    port = published_port(container, 5432)

    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user="app", password="s3cret", database="appdb"
    )
    try:
        assert await conn.fetchval("SELECT current_user") == "app"
        names = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        assert {"auth", "notify", "portfolio", "media", "search"} <= names  # the init script ran
        await conn.execute("CREATE EXTENSION pg_trgm")  # the search service's full-text needs it
        assert await conn.fetchval("SELECT similarity('portfolio', 'portfolios')") > 0.5
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host="127.0.0.1", port=port, user="app", password="wrong")


async def test_postgres_without_a_password_refuses_to_start_and_says_why(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    container = run_container(require_image("postgres"))
    result = await asyncio.to_thread(container.wait, timeout=60)
    assert result["StatusCode"] == 1
    assert b"POSTGRES_PASSWORD is not set" in container.logs()


async def test_rabbitmq_takes_a_non_loopback_user_and_quorum_queues(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    container = run_container(
        require_image("rabbitmq"),
        environment={"RABBITMQ_DEFAULT_USER": "app", "RABBITMQ_DEFAULT_PASS": "s3cret"},
        ports={"5672/tcp": LOOPBACK},
    )
    await wait_healthy(container)
    port = published_port(container, 5672)

    connection = await aio_pika.connect(host="127.0.0.1", port=port, login="app", password="s3cret")
    async with connection:
        channel = await connection.channel()  # publisher confirms: published means queued
        queue = await channel.declare_queue(
            f"images-test-{uuid.uuid4().hex[:8]}",
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        await channel.default_exchange.publish(aio_pika.Message(b"ping"), routing_key=queue.name)
        message = await queue.get(timeout=5)
        assert message.body == b"ping"
        await message.ack()
    # The e2e provider manages vhosts with rabbitmqctl inside the container.
    code, output = container.exec_run(["rabbitmqctl", "-q", "add_vhost", "images-test"])
    assert code == 0, output


async def test_redis_answers_and_keeps_nothing_on_disk(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    container = run_container(require_image("redis"), ports={"6379/tcp": LOOPBACK})
    await wait_healthy(container)
    port = published_port(container, 6379)

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:

        async def command(*words: str) -> bytes:
            parts = [f"*{len(words)}\r\n"] + [f"${len(w)}\r\n{w}\r\n" for w in words]
            writer.write("".join(parts).encode())
            await writer.drain()
            return await asyncio.wait_for(reader.read(4096), 5)

        assert await command("PING") == b"+PONG\r\n"
        assert await command("SET", "k", "v") == b"+OK\r\n"
        assert await command("GET", "k") == b"$1\r\nv\r\n"
        assert await command("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    finally:
        writer.close()


def _s3_round_trip(endpoint: str) -> None:
    def client(secret: str) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="images-test",
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )

    s3 = client("images-test-secret")
    bucket = f"images-test-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello"
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a/b.txt"}, ExpiresIn=60
    )
    assert httpx.get(url).content == b"hello"
    assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client("wrong-secret").list_buckets()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


async def test_s3_checks_signatures_with_the_keys_from_its_environment(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    container = run_container(
        require_image("s3"),
        environment={"S3_ACCESS_KEY": "images-test", "S3_SECRET_KEY": "images-test-secret"},
        ports={"8333/tcp": LOOPBACK},
    )
    await wait_healthy(container)
    endpoint = f"http://127.0.0.1:{published_port(container, 8333)}"
    await asyncio.to_thread(_s3_round_trip, endpoint)


async def test_s3_takes_minios_command_line_and_port_as_compose_writes_them(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    container = run_container(
        require_image("s3"),
        ["server", "/data", "--console-address", ":9001"],
        environment={
            "S3_PORT": "9000",
            "MINIO_ROOT_USER": "images-test",
            "MINIO_ROOT_PASSWORD": "images-test-secret",
        },
        ports={"9000/tcp": LOOPBACK},
    )
    await wait_healthy(container)
    endpoint = f"http://127.0.0.1:{published_port(container, 9000)}"
    await asyncio.to_thread(_s3_round_trip, endpoint)


@pytest.mark.usefixtures("testcontainers_offline")
@pytest.mark.parametrize("name", sorted(STAND_INS))
async def test_testcontainers_runs_each_stand_in(
    name: str, engine: Any, require_image: Callable[[str], str]
) -> None:
    from testcontainers.core.container import DockerContainer

    stand_in = STAND_INS[name]
    container = DockerContainer(require_image(name)).with_exposed_ports(stand_in.port)
    for key, value in stand_in.env.items():
        container.with_env(key, value)
    await asyncio.to_thread(container.start)
    try:
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(stand_in.port))
        # Ready when the protocol answers through the published port, not when a log line shows.
        await wait_ready(stand_in, host, port, timeout=90)
        container_id = container.get_wrapped_container().id
    finally:
        container.stop()
    assert engine.containers.list(all=True, filters={"id": container_id}) == []


@pytest.mark.usefixtures("testcontainers_offline")
async def test_testcontainers_postgres_container_accepts_the_stand_in(
    require_image: Callable[[str], str],
) -> None:
    from testcontainers.community.postgres import PostgresContainer

    postgres = PostgresContainer(require_image("postgres"), driver=None)
    await asyncio.to_thread(postgres.start)  # its readiness: psql over TCP inside the container
    try:
        conn = await asyncpg.connect(postgres.get_connection_url())
        try:
            assert await conn.fetchval("SELECT current_database()") == "test"
        finally:
            await conn.close()
    finally:
        postgres.stop()


async def test_smtp_keeps_what_it_receives_and_lists_it_as_mailpit_does(
    require_image: Callable[[str], str], run_container: Callable[..., Any]
) -> None:
    import smtplib
    from email.message import EmailMessage

    container = run_container(
        require_image("smtp"), ports={"1025/tcp": LOOPBACK, "8025/tcp": LOOPBACK}
    )
    await wait_healthy(container)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "Hi"
    message.set_content("hello")
    with smtplib.SMTP("127.0.0.1", published_port(container, 1025), timeout=10) as smtp:
        smtp.send_message(message, from_addr="bounces+x@example.org")
    api = f"http://127.0.0.1:{published_port(container, 8025)}/api/v1"
    async with httpx.AsyncClient(base_url=api, timeout=5) as client:
        listed = (await client.get("/messages")).json()
        assert listed["total"] == 1
        (kept,) = listed["messages"]
        assert (kept["Subject"], kept["To"][0]["Address"]) == ("Hi", "b@example.org")
        raw = (await client.get(f"/message/{kept['ID']}/raw")).text
        assert "hello" in raw
        await client.delete("/messages")
        assert (await client.get("/messages")).json()["total"] == 0
    assert container.attrs["Config"]["User"] == "10001"
