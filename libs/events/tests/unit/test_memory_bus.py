"""The in-memory bus passes the same conformance suite as RabbitMQ."""

import pytest

from events.testing.conformance import BusConformance, BusHarness, MemoryHarness


class TestInMemoryBus(BusConformance):
    @pytest.fixture
    def harness(self) -> BusHarness:
        return MemoryHarness()
