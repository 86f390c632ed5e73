"""Lifting a suppression: on the ops port with the operators' token, or from the command line;
audited either way, announced to auth, and the address gets mail again."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from events.contracts import UserRegisteredV1
from events.testing import delivery, example_event
from notify.bootstrap import SERVICE
from notify.container import Container
from notify.testing import SmtpServer, operator, sender
from servicekit.runner import api_app, ops_app_of


@pytest.fixture
async def ops(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = ops_app_of(SERVICE, api_app(SERVICE, container))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notify-ops") as client:
        yield client


async def suppress(container: Container, address: str) -> None:
    async with container.uow() as tx:
        await tx.suppressions.add(address, "dsn", "5.1.1 user unknown", container.clock.now())
        await tx.commit()


async def audit_rows(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM suppression_audit ORDER BY at"))
        return [dict(r) for r in rows.mappings()]


LIFT = {"operator": "ops@portfolio.example", "reason": "the mailbox exists again (ticket 42)"}


async def test_an_operator_lifts_a_suppression_and_the_address_gets_mail_again(
    container: Container, ops: httpx.AsyncClient, smtp: SmtpServer, outbox: Any
) -> None:
    await suppress(container, "back@example.org")
    shown = await ops.get("/admin/suppressions/Back@Example.org", headers=operator())
    assert shown.status_code == 200
    assert (shown.json()["address"], shown.json()["reason"]) == ("back@example.org", "dsn")

    lifted = await ops.post(
        "/admin/suppressions/back@example.org/lift", json=LIFT, headers=operator()
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["previous_reason"] == "dsn"
    [audit] = await audit_rows(container)
    assert (audit["address_key"], audit["action"], audit["operator"]) == (
        "back@example.org",
        "lifted",
        "ops@portfolio.example",
    )
    assert (audit["reason"], audit["previous_detail"]) == (LIFT["reason"], "5.1.1 user unknown")
    [event] = await outbox()
    assert (event.type, event.data.recipient) == ("email.suppression_lifted.v1", "back@example.org")

    welcome = example_event(UserRegisteredV1, email="back@example.org")
    await sender(container, "welcome_email")(delivery(welcome, "notify.welcome_email"))
    assert len(smtp.to("back@example.org")) == 1
    again = await ops.get("/admin/suppressions/back@example.org", headers=operator())
    assert again.status_code == 404


@pytest.mark.parametrize("headers", [{}, operator("a-guess"), {"Authorization": "Basic x"}])
async def test_the_admin_routes_refuse_anyone_without_the_operators_token(
    container: Container, ops: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await suppress(container, "kept@example.org")
    refused = await ops.post(
        "/admin/suppressions/kept@example.org/lift", json=LIFT, headers=headers
    )
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/operator-unauthenticated")
    assert await audit_rows(container) == []


async def test_lifting_needs_a_reason_and_an_address_that_is_suppressed(
    ops: httpx.AsyncClient,
) -> None:
    no_reason = await ops.post(
        "/admin/suppressions/x@example.org/lift",
        json={"operator": "ops"},
        headers=operator(),
    )
    assert no_reason.status_code == 422
    unknown = await ops.post(
        "/admin/suppressions/nobody@example.org/lift", json=LIFT, headers=operator()
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/not-suppressed")


async def test_the_public_api_serves_no_admin_route(container: Container) -> None:
    transport = httpx.ASGITransport(app=api_app(SERVICE, container))
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
        response = await client.post(
            "/admin/suppressions/x@example.org/lift", json=LIFT, headers=operator()
        )
        assert response.status_code == 404
        assert (await client.get("/metrics")).status_code == 404


async def test_the_command_line_lifts_a_suppression_with_the_same_audit(
    container: Container, database: str
) -> None:
    await suppress(container, "cli@example.org")
    env = {
        **os.environ,
        "NOTIFY_ENVIRONMENT": "dev",
        "NOTIFY_DATABASE_URL": database,
        "NOTIFY_LOG_JSON": "true",
    }

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "notify",
            "suppressions",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    code, out, _ = await run("show", "cli@example.org")
    assert code == 0 and '"reason": "dsn"' in out
    code, out, _ = await run(
        "lift", "cli@example.org", "--operator", "jo", "--reason", "verified by phone"
    )
    assert code == 0 and '"lifted": "cli@example.org"' in out
    [audit] = await audit_rows(container)
    assert (audit["operator"], audit["reason"]) == ("jo", "verified by phone")
    code, _, err = await run("lift", "cli@example.org", "--operator", "jo", "--reason", "again")
    assert code == 1 and "not on the suppression list" in err
