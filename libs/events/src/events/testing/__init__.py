"""The bus's test kit for services: an in-memory bus, example events, a tap on the real
exchange, stand-ins for outside HTTP services, and the outbox drained through the contracts."""

from events.testing.examples import delivery, example, example_event
from events.testing.http import LoopbackHttpServer, SentryCapture
from events.testing.memory_bus import InMemoryBus, Parked
from events.testing.metrics import Scrape, scrape, scrape_registry
from events.testing.outbox import ContractRecorder, drain_outbox
from events.testing.tap import EventTap, Tapped
from events.testing.waiting import wait_for

__all__ = [
    "ContractRecorder",
    "EventTap",
    "InMemoryBus",
    "LoopbackHttpServer",
    "Parked",
    "Scrape",
    "SentryCapture",
    "Tapped",
    "delivery",
    "drain_outbox",
    "example",
    "example_event",
    "scrape",
    "scrape_registry",
    "wait_for",
]
