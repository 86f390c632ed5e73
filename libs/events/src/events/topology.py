"""Queue names and declarations: one quorum queue per handler, its retry levels and its DLQ."""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from aiormq.exceptions import ChannelPreconditionFailed

from events.catalog import Subscription
from events.errors import EventsError
from events.settings import BusSettings


class TopologyMismatch(EventsError):
    """A queue exists with other arguments than this code declares (a changed retry delay)."""


def retry_queue(queue: str, level: int) -> str:
    return f"{queue}.retry.{level}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


def _quorum(**extra: Any) -> dict[str, Any]:
    # At-least-once dead-lettering keeps a message until its target confirms it; RabbitMQ requires
    # overflow=reject-publish for that strategy.
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        **extra,
    }


def main_queue_arguments(sub: Subscription, settings: BusSettings) -> dict[str, Any]:
    """The handler's queue: a message that crashes consumers `delivery_limit` times is parked."""
    return _quorum(
        **{
            "x-delivery-limit": settings.delivery_limit,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_queue(sub.queue),
        }
    )


def retry_queue_arguments(sub: Subscription, level: int, settings: BusSettings) -> dict[str, Any]:
    """A delay level: messages wait their TTL, then dead-letter back to the handler's queue."""
    delay = sub.retry.scaled(settings.retry_time_scale).delays[level - 1]
    return _quorum(
        **{
            "x-message-ttl": max(1, int(delay.total_seconds() * 1000)),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": sub.queue,
        }
    )


async def declare_exchange(channel: AbstractChannel, settings: BusSettings) -> AbstractExchange:
    return await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )


async def _declare(channel: AbstractChannel, name: str, arguments: dict[str, Any]) -> AbstractQueue:
    try:
        return await channel.declare_queue(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed as exc:
        raise TopologyMismatch(
            f"queue {name} exists with other arguments ({exc}); if a retry delay changed, drain "
            f"and delete the queue (`python -m events dlq ...` shows what it holds) and restart"
        ) from exc


async def declare_subscription(
    channel: AbstractChannel, sub: Subscription, settings: BusSettings
) -> AbstractQueue:
    """Declare the handler's queue, retry levels and DLQ, and bind the queue to its types.

    The DLQ is declared first so that nothing is dead-lettered into the void.
    """
    exchange = await declare_exchange(channel, settings)
    await _declare(channel, dead_letter_queue(sub.queue), {"x-queue-type": "quorum"})
    queue = await _declare(channel, sub.queue, main_queue_arguments(sub, settings))
    for level in range(1, len(sub.retry.delays) + 1):
        await _declare(
            channel, retry_queue(sub.queue, level), retry_queue_arguments(sub, level, settings)
        )
    for event_type in sub.types:
        await queue.bind(exchange, routing_key=event_type)
    return queue
