"""The depth of each handler's DLQ as a metric, so that an alert fires while messages wait there.

RabbitMQ's own metrics live on its management/Prometheus plugin, which a deployment may not
scrape; the worker that owns the queues reports them itself with a passive declare (a queue's
message count, no management API, no extra credentials).
"""

from __future__ import annotations

import asyncio
import contextlib

from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from events import telemetry
from events.logs import get_logger
from events.topology import dead_letter_queue

log = get_logger("events.dlq_depth")


class DlqDepthMonitor:
    """Polls the DLQ of each of `queues` every `interval_s` and sets `events_dlq_messages`."""

    def __init__(
        self, connection: AbstractRobustConnection, queues: list[str], interval_s: float
    ) -> None:
        self._connection = connection
        self._queues = queues
        self._interval_s = interval_s
        self._channel: AbstractRobustChannel | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.poll_once()
                except Exception as exc:
                    # A missing queue closes the channel, a broker cut loses it: the next pass
                    # opens a new one. The gauge keeps its last value meanwhile.
                    log.warning("DLQ depth poll failed", error=repr(exc))
                    self._channel = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval_s)
        finally:
            if self._channel is not None and not self._channel.is_closed:
                with contextlib.suppress(Exception):
                    await self._channel.close()

    async def poll_once(self) -> dict[str, int]:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel()
        depths: dict[str, int] = {}
        for queue in self._queues:
            # Not robust: a robust channel answers a repeated passive declare from its cache,
            # with the count of the first one.
            declared = await self._channel.declare_queue(
                dead_letter_queue(queue), passive=True, robust=False
            )
            depth = declared.declaration_result.message_count or 0
            telemetry.DLQ_MESSAGES.labels(queue).set(depth)
            depths[queue] = depth
        return depths
