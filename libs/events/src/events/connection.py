"""Robust broker connections: they reconnect and restore channels, queues and consumers."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from events.settings import BusSettings


async def connect(settings: BusSettings, name: str) -> AbstractRobustConnection:
    """Open a robust connection named after its role, so `rabbitmqctl` shows who is who."""
    return await aio_pika.connect_robust(
        settings.amqp_url.get_secret_value(),
        reconnect_interval=settings.reconnect_interval_s,
        client_properties={"connection_name": name},
    )
