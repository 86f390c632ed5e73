"""The platform's contract-tested event bus.

Services use what is listed in `__all__`; everything else is an implementation detail.
"""

from events.catalog import CATALOG, Catalog, EventSpec, Subscription
from events.connection import connect
from events.consumer import Consumer
from events.context import Correlation, correlated, current
from events.db import create_engine, session_factory
from events.envelope import CONTENT_TYPE, Envelope, Event, EventData, RawEvent, new_event
from events.errors import (
    ContractViolation,
    EventsError,
    PermanentError,
    PublishError,
    Unroutable,
    is_retryable,
)
from events.logs import configure_logging, get_logger
from events.outbox import OutboxRelay, RelaySettings
from events.publisher import Publisher, RabbitPublisher
from events.retry import DEFAULT, EMAIL, MEDIA, RetryPolicy
from events.routing import Delivery, Handler, Router
from events.runtime import BusRuntime, run_until_signalled
from events.settings import BusSettings
from events.tables import create_bus_tables, drop_bus_tables
from events.telemetry import init_sentry
from events.uow import UnitOfWork

__all__ = [
    "CATALOG",
    "CONTENT_TYPE",
    "DEFAULT",
    "EMAIL",
    "MEDIA",
    "BusRuntime",
    "BusSettings",
    "Catalog",
    "Consumer",
    "ContractViolation",
    "Correlation",
    "Delivery",
    "Envelope",
    "Event",
    "EventData",
    "EventSpec",
    "EventsError",
    "Handler",
    "OutboxRelay",
    "PermanentError",
    "PublishError",
    "Publisher",
    "RabbitPublisher",
    "RawEvent",
    "RelaySettings",
    "RetryPolicy",
    "Router",
    "Subscription",
    "UnitOfWork",
    "Unroutable",
    "configure_logging",
    "connect",
    "correlated",
    "create_bus_tables",
    "create_engine",
    "current",
    "drop_bus_tables",
    "get_logger",
    "init_sentry",
    "is_retryable",
    "new_event",
    "run_until_signalled",
    "session_factory",
]
