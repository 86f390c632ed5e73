"""A duplicate delivery changes the state once, even when both copies arrive together."""

from __future__ import annotations

from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from events.consumer import Consumer
from events.contracts import UserRegisteredV1
from events.publisher import RabbitPublisher
from events.settings import BusSettings
from events.testing import example_event, wait_for

pytestmark = pytest.mark.integration


async def test_a_duplicate_delivery_changes_the_state_once(
    connection: AbstractRobustConnection,
    bus_settings: BusSettings,
    ledger: Any,
    make_router: Any,
) -> None:
    consumer = Consumer(connection, make_router(ledger), bus_settings)
    await consumer.start()
    publisher = RabbitPublisher(connection, bus_settings)
    await publisher.start()
    event = example_event(UserRegisteredV1)
    other = example_event(UserRegisteredV1)
    # The same event three times (as a producer retry or a redelivery would), concurrently with
    # the prefetch window open, so copies race in the handler.
    for e in (event, event, other, event):
        await publisher.publish(e)
    await wait_for(lambda: len(ledger.calls) == 4, timeout=10, message="all copies delivered")
    # A call is recorded before its commit: the last copy may still be committing.
    await consumer.stop()
    assert await ledger.applied() == {event.id: 1, other.id: 1}
    await publisher.close()
