"""Fixtures of the e2e suite: one platform per session, a tap on its exchange, clients.

A failing test gets the tail of every service's log attached to its report.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from devkit import providers, report
from devkit.platform import Platform
from events.connection import connect
from events.settings import BusSettings
from events.testing import EventTap

_platform: Platform | None = None
_tap: EventTap | None = None
_infra: providers.Infra | None = None
FIRST_TAPPED = pytest.StashKey[int]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Which infrastructure the run had, and what it lacked (Meilisearch, Ryuk), in its output."""
    if _infra is None:
        return
    terminalreporter.section(f"e2e infrastructure: {_infra.provider}")
    for note in _infra.notes:
        terminalreporter.write_line(note)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    outcome = yield
    if outcome.when == "call" and _platform is not None and _tap is not None:
        write_report(item, _platform, _tap, outcome.outcome)
    if outcome.failed and _platform is not None and _platform.processes:
        outcome.sections.append(("service logs", _platform.logs(lines=80)))
        outcome.sections.append(("workflow report", str(_platform.log_dir / "report.md")))
    return outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[FIRST_TAPPED] = len(_tap.seen) if _tap is not None else 0
    return (yield)


def write_report(item: pytest.Item, platform: Platform, tap: EventTap, outcome: str) -> None:
    """The test's events as a diagram in the run's report (every test, passing or not)."""
    records = [r for p in platform.processes.values() for r in p.log_records()]
    section = report.render(
        item.name,
        tap.seen[item.stash.get(FIRST_TAPPED, 0) :],
        {s.name for s in platform.services},
        records,
        outcome,
    )
    report.append(platform.log_dir / "report.md", section)


@pytest.fixture(scope="session")
async def platform() -> AsyncIterator[Platform]:
    global _platform, _tap, _infra
    problem: str | None = None
    try:
        # E2E_SERVICES=auth,notify runs a subset, for a test that needs only those.
        only = os.environ.get("E2E_SERVICES")
        platform = Platform(providers.choose(), only=tuple(only.split(",")) if only else None)
        await platform.start()
    except providers.ProviderUnavailable as exc:
        problem = str(exc)
    if problem is not None:  # outside the except: the message alone, not a chained traceback
        pytest.fail(problem, pytrace=False)
    assert platform.run is not None
    _infra = platform.base
    # The tap starts with the platform, so every test's events are in the workflow report.
    settings = BusSettings(amqp_url=SecretStr(platform.run.amqp_url), reconnect_interval_s=0.5)
    connection = await connect(settings, "e2e-tap")
    _tap = await EventTap(connection, settings.exchange).start()
    _platform = platform
    try:
        yield platform
    finally:
        await _tap.stop()
        await connection.close()
        await platform.stop()
        _platform = _tap = None


@pytest.fixture(scope="session")
def tap(platform: Platform) -> EventTap:
    assert _tap is not None
    return _tap


@pytest.fixture(scope="session")
async def auth(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("auth"), timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def notify(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("notify"), timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def portfolio(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("portfolio"), timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def media(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("media"), timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
async def search(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("search"), timeout=30) as client:
        yield client
