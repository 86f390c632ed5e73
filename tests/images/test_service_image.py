"""The auth image, built here with no index or registry (wheelhouse, local Python base), runs
its migrations and its API against the stand-ins, answers /healthz and /readyz through a
published port, and reports healthy by its own HEALTHCHECK.

Builds the image first (about a minute cold, seconds when cached); needs the engine and images.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from devkit.images.service import build_service_image, service_tag
from devkit.servers import repo_root
from events.testing import wait_for
from tests.images.conftest import published_port, wait_healthy

SERVICE_HEALTH_TIMEOUT = 60.0  # the image probes every 15 s: its first probe comes at 15 s


async def test_auth_image_built_offline_migrates_serves_and_is_healthy(
    engine: Any,
    require_image: Callable[[str], str],
    run_container: Callable[..., Any],
    network: Any,
) -> None:
    await asyncio.to_thread(build_service_image, repo_root(), "auth", log=lambda _: None)
    image = service_tag("auth")
    on_network = {"network": network.name}
    # Named: the engine's DNS on a user-defined network answers only for names given at run
    # (docker 20.10 registers no generated name).
    postgres = run_container(
        require_image("postgres"),
        name=f"{network.name}-postgres",
        environment={"POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "auth"},
        **on_network,
    )
    rabbitmq = run_container(
        require_image("rabbitmq"), name=f"{network.name}-rabbitmq", **on_network
    )
    await asyncio.gather(wait_healthy(postgres), wait_healthy(rabbitmq))

    key = json.loads(engine.containers.run(image, ["keygen"], remove=True))
    env = {
        "AUTH_ENVIRONMENT": "prod",
        "AUTH_SIGNING_KEYS": json.dumps([key]),
        "AUTH_DATABASE_URL": f"postgresql+asyncpg://postgres:s3cret@{postgres.name}:5432/auth",
        "AUTH_BUS__AMQP_URL": f"amqp://guest:guest@{rabbitmq.name}:5672/",
    }
    migrate = run_container(image, ["migrate"], environment=env, **on_network)
    outcome = await asyncio.to_thread(migrate.wait, timeout=120)
    assert outcome["StatusCode"] == 0, migrate.logs(tail=30).decode()

    api = run_container(
        image, ["api"], environment=env, ports={"8001/tcp": ("127.0.0.1", None)}, **on_network
    )
    base = f"http://127.0.0.1:{published_port(api, 8001)}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:

        async def answers() -> bool:
            try:
                return (await client.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(answers, timeout=60, interval=0.2, message="auth /healthz")
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert [entry["kid"] for entry in jwks["keys"]] == [key["kid"]]
    await wait_healthy(api, timeout=SERVICE_HEALTH_TIMEOUT)
    assert api.attrs["Config"]["User"] == "10001"
