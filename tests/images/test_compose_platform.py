"""The smoke run of the images: compose.yaml brought up for real with docker-compose (1.29) from
the images built here (each service's migrate job, api and worker from its own image; RabbitMQ,
PostgreSQL, Redis, S3 and the SMTP catcher from the stand-ins), every container healthy, then a
person registers, gets both emails in the catcher, verifies and logs in; the token works at
another service (portfolio verifies it with auth's published keys).

Needs the engine, docker-compose (`apt-get install docker-compose`), the stand-ins
(`just images-local`) and the service images (`just images`). Takes about two minutes to start.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devkit.images import compose
from devkit.images.service import service_tag, services
from devkit.servers import repo_root
from events.testing import wait_for

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_%\-]+)")


@pytest.fixture(scope="module")
def platform(engine: Any, require_image: Callable[[str], str]) -> Iterator[dict[str, str]]:
    root = repo_root()
    for name in services(root):
        try:
            engine.images.get(service_tag(name))
        except Exception:
            pytest.fail(f"{service_tag(name)} is not built: run `just images`", pytrace=False)
    for name in ("rabbitmq", "postgres", "redis", "s3", "smtp"):
        require_image(name)
    try:
        env = compose.up(root)
    except compose.ComposeError as exc:
        compose.down(repo_root())
        pytest.fail(str(exc), pytrace=False)
    yield env
    compose.down(root)


def test_every_container_is_healthy_or_done_and_services_run_as_non_root(
    platform: dict[str, str], engine: Any
) -> None:
    root = repo_root()
    states = compose.states(root, platform)
    assert set(compose.services(root, platform)) <= set(states)
    for name, state in states.items():
        done = state["status"] == "exited" and state["exit_code"] == 0
        assert state["health"] == "healthy" or done, f"{name}: {state}"
    ours = engine.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={compose.PROJECT}"}
    )
    roles = ("-migrate", "-api", "-worker", "topology")
    of_services = [c for c in ours if c.labels["com.docker.compose.service"].endswith(roles)]
    assert len(of_services) == 3 * len(services(root)) + 1
    for container in of_services:
        assert container.attrs["Config"]["User"] == "10001", container.name


async def test_a_registration_completes_with_its_emails_in_the_catcher(
    platform: dict[str, str],
) -> None:
    auth_url = f"http://127.0.0.1:{platform['AUTH_PORT']}"
    mail_url = f"http://127.0.0.1:{platform['MAILPIT_PORT']}/api/v1"
    portfolio_url = f"http://127.0.0.1:{platform['PORTFOLIO_PORT']}"
    address = f"ada-{uuid.uuid4().hex[:10]}@example.org"
    async with httpx.AsyncClient(timeout=30) as client:
        created = await client.post(
            f"{auth_url}/auth/register",
            json={"email": address, "password": PASSWORD, "display_name": "Ada Lovelace"},
        )
        assert created.status_code == 202, created.text

        async def mail_to(subject: str) -> dict[str, Any] | None:
            listed = (await client.get(f"{mail_url}/messages")).json()["messages"]
            for message in listed:
                to = [r["Address"] for r in message["To"]]
                if address in to and subject in message["Subject"]:
                    return dict(message)
            return None

        async def arrived(subject: str) -> dict[str, Any]:
            found: dict[str, Any] = {}

            async def check() -> bool:
                found.update(await mail_to(subject) or {})
                return bool(found)

            await wait_for(check, timeout=60, interval=0.5, message=f"no {subject!r} email")
            return found

        welcome, verification = await asyncio.gather(
            arrived("Welcome"), arrived("Confirm your email address")
        )
        assert welcome["ID"] != verification["ID"]
        raw = (await client.get(f"{mail_url}/message/{verification['ID']}/raw")).content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        match = TOKEN.search(body.get_content())
        assert match, body.get_content()
        token = parse_qs(urlsplit(match.group(0).replace("&", "?")).query)["token"][0]

        verified = await client.post(f"{auth_url}/auth/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
        logged_in = await client.post(
            f"{auth_url}/auth/login", json={"email": address, "password": PASSWORD}
        )
        assert logged_in.status_code == 200, logged_in.text
        access = logged_in.json()["access_token"]

        # Another service verifies the token with auth's published keys (JWKS over the network).
        mine = await client.get(
            f"{portfolio_url}/portfolios", headers={"Authorization": f"Bearer {access}"}
        )
        assert mine.status_code == 200, mine.text
        refused = await client.get(
            f"{portfolio_url}/portfolios", headers={"Authorization": "Bearer not-a-token"}
        )
        assert refused.status_code == 401, refused.text
