"""Publishing with publisher confirms, mandatory routing and persistent messages."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from events import telemetry
from events._amqp import Meta, build_message
from events.catalog import CATALOG, Catalog
from events.envelope import Event
from events.errors import ContractViolation, PublishError, Unroutable
from events.settings import BusSettings
from events.topology import declare_exchange


class Publisher(Protocol):
    """The port a service publishes through (directly, or via the outbox relay)."""

    async def publish(self, event: Event[Any]) -> None: ...


def check_contract(event: Event[Any], catalog: Catalog = CATALOG) -> None:
    """Refuse an event whose type is unknown or whose payload is not its type's model."""
    spec = catalog.event(event.type)
    if not isinstance(event.data, spec.model):
        raise ContractViolation(
            f"{event.type} must carry {spec.model.__name__}, not {type(event.data).__name__}"
        )


class RabbitPublisher:
    """Publishes on one confirm channel; concurrent publishes share it (aiormq tracks the tags)."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        settings: BusSettings,
        catalog: Catalog = CATALOG,
    ) -> None:
        self._connection = connection
        self._settings = settings
        self._catalog = catalog
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def start(self) -> None:
        # on_return_raises turns a Basic.Return (no queue bound) into an error, not silence.
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await declare_exchange(self._channel, self._settings)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    @property
    def ready(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def publish(self, event: Event[Any]) -> None:
        check_contract(event, self._catalog)
        await self.publish_body(Meta.of(event), event.body())

    async def publish_body(self, meta: Meta, body: bytes) -> None:
        """Publish an already-validated envelope (the outbox relay's path: no re-parsing)."""
        if self._exchange is None:
            raise PublishError("publisher not started")
        message = build_message(meta, body)
        try:
            # A publish on a connection that is being restored can wait forever: always bound it.
            async with asyncio.timeout(self._settings.publish_timeout_s):
                await self._exchange.publish(message, routing_key=meta.type, mandatory=True)
        except aiormq.exceptions.PublishError as exc:
            telemetry.PUBLISH_FAILED.labels(meta.type, "unroutable").inc()
            raise Unroutable(f"no queue is bound to {meta.type} on {self._exchange.name}") from exc
        except TimeoutError as exc:
            telemetry.PUBLISH_FAILED.labels(meta.type, "timeout").inc()
            raise PublishError(f"no confirm for {meta.id} within the publish timeout") from exc
        except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            telemetry.PUBLISH_FAILED.labels(meta.type, type(exc).__name__).inc()
            raise PublishError(f"publish of {meta.id} failed: {exc!r}") from exc
        telemetry.PUBLISHED.labels(meta.type).inc()
