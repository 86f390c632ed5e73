"""Registration and reset requests as a weapon: limits per client network and per inbox, the
same answer either way, bad input refused before it reaches the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from auth.bootstrap import SERVICE
from auth.container import Container
from auth.networks import network_of, target_of
from auth.testing import Outbox, register
from servicekit.clock import FrozenClock
from servicekit.testing import api_client

PROBLEM = "https://portfolio.example/problems/"


@pytest.fixture
async def from_v6(container: Container) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Four clients with four addresses in one IPv6 /64, as one host rotates them."""
    clients = [api_client(SERVICE, container, address=f"2001:db8:1:2::{n}") for n in range(1, 5)]
    yield clients
    for client in clients:
        await client.aclose()


def test_networks_and_targets() -> None:
    assert network_of("203.0.113.7") == "203.0.113.7/32"
    assert network_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert network_of("::ffff:203.0.113.7") == "203.0.113.7/32"
    assert network_of("unknown") == "unknown"
    assert target_of("ada+news@example.org") == "ada@example.org"
    assert target_of("ada@example.org") == "ada@example.org"


async def test_one_network_may_register_only_so_many_accounts_an_hour(
    container: Container, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    container.settings.requests_max_per_network = 3
    codes = [(await register(client, f"person{n}@example.org")).status_code for n in range(4)]
    assert codes == [202, 202, 202, 429]
    refused = await register(client, "person9@example.org")
    assert refused.json()["type"] == PROBLEM + "too-many-requests"
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    async with api_client(SERVICE, container, address="198.51.100.9") as elsewhere:
        assert (await register(elsewhere, "person10@example.org")).status_code == 202
    clock.advance(container.settings.request_window)
    assert (await register(client, "person11@example.org")).status_code == 202


async def test_an_ipv6_host_rotating_its_addresses_is_one_network(
    container: Container, from_v6: list[httpx.AsyncClient]
) -> None:
    container.settings.requests_max_per_network = 3
    codes = [
        (await register(c, f"rotating{n}@example.org")).status_code for n, c in enumerate(from_v6)
    ]
    assert codes == [202, 202, 202, 429]


async def test_plus_addressing_cannot_flood_one_inbox(container: Container, outbox: Outbox) -> None:
    # A different client for each request: only the per-inbox limit is left to stop it.
    codes = []
    for n in range(5):
        async with api_client(SERVICE, container, address=f"198.51.100.{n + 1}") as client:
            codes.append((await register(client, f"victim+{n}@example.org")).status_code)
    limit = container.settings.requests_max_per_target
    assert codes == [202] * limit + [429] * (5 - limit)
    assert (await outbox.types()).count("user.verification_requested.v1") == limit


async def test_the_limit_answers_the_same_for_known_and_unknown_addresses(
    container: Container, client: httpx.AsyncClient
) -> None:
    container.settings.requests_max_per_target = 1
    await register(client, "known@example.org")
    known = await register(client, "known@example.org")
    await register(client, "unknown@example.org", password="unknown one here")  # not yet known
    unknown = await register(client, "unknown@example.org")
    assert (known.status_code, known.json()["type"]) == (
        unknown.status_code,
        unknown.json()["type"],
    )


@pytest.mark.parametrize(
    "body",
    [
        {"email": "\u0000", "password": "whatever it is"},
        {"email": "ada\u0000@example.org", "password": "whatever it is"},
        {"email": "a" * 400, "password": "x"},
    ],
)
async def test_bad_input_at_login_is_a_422_problem_never_a_500(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    response = await client.post("/auth/login", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_registration_refuses_nothing_it_documents_as_valid(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["components"]["schemas"]["UserCreate"]["properties"]
    assert body["email"]["format"] == "email"
    assert (body["password"]["minLength"], body["password"]["maxLength"]) == (12, 128)
    assert "pattern" in body["display_name"]
    assert schema["paths"]["/auth/register"]["post"]["responses"].keys() >= {"202", "422", "429"}


async def test_the_window_of_the_request_limits_slides(
    container: Container, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    container.settings.requests_max_per_network = 2
    await register(client, "first@example.org")
    clock.advance(timedelta(minutes=30))
    await register(client, "second@example.org")
    refused = await register(client, "third@example.org")
    assert int(refused.headers["retry-after"]) == 30 * 60, "until the first leaves the window"
