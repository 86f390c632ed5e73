"""Fixtures of the e2e suite: one platform per session, a tap on its exchange, clients.

A failing test gets the tail of every service's log attached to its report.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx
import pytest

from devkit import providers
from devkit.platform import Platform
from events.connection import connect
from events.settings import BusSettings
from events.testing import EventTap

_platform: Platform | None = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _platform is not None and _platform.processes:
        report.sections.append(("service logs", _platform.logs(lines=80)))
    return report


@pytest.fixture(scope="session")
async def platform() -> AsyncIterator[Platform]:
    global _platform
    problem: str | None = None
    try:
        platform = Platform(providers.choose())
        await platform.start()
    except providers.ProviderUnavailable as exc:
        problem = str(exc)
    if problem is not None:  # outside the except: the message alone, not a chained traceback
        pytest.fail(problem, pytrace=False)
    _platform = platform
    try:
        yield platform
    finally:
        await platform.stop()
        _platform = None


@pytest.fixture(scope="session")
async def tap(platform: Platform) -> AsyncIterator[EventTap]:
    assert platform.run is not None
    from pydantic import SecretStr

    settings = BusSettings(amqp_url=SecretStr(platform.run.amqp_url), reconnect_interval_s=0.5)
    connection = await connect(settings, "e2e-tap")
    tap = await EventTap(connection, settings.exchange).start()
    try:
        yield tap
    finally:
        await tap.stop()
        await connection.close()


@pytest.fixture(scope="session")
async def auth(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("auth"), timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def notify(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("notify"), timeout=30) as client:
        yield client
