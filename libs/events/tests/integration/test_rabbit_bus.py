"""RabbitMQ passes the conformance suite that the in-memory bus is held to."""

from collections.abc import AsyncIterator

import pytest

from events.settings import BusSettings
from events.testing.conformance import BusConformance, BusHarness, RabbitHarness

pytestmark = pytest.mark.integration


class TestRabbitBus(BusConformance):
    @pytest.fixture
    async def harness(self, bus_settings: BusSettings) -> AsyncIterator[BusHarness]:
        harness = RabbitHarness(bus_settings)
        await harness.open()
        try:
            yield harness
        finally:
            await harness.close()
