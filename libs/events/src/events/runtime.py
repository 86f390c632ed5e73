"""What a service's worker runs: one broker connection, the outbox relay and the consumer."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from events.connection import connect
from events.consumer import Consumer
from events.dlq_depth import DlqDepthMonitor
from events.logs import get_logger
from events.outbox import OutboxRelay, RelaySettings
from events.publisher import RabbitPublisher
from events.routing import Router
from events.settings import BusSettings

log = get_logger("events.runtime")


class BusRuntime:
    """Starts and stops the relay and the consumer together, and says whether both are healthy."""

    def __init__(
        self,
        *,
        service: str,
        settings: BusSettings,
        engine: AsyncEngine,
        router: Router | None,
        relay: RelaySettings | None = None,
        role: str = "worker",
    ) -> None:
        self.service = service
        self.settings = settings
        self._engine = engine
        self._router = router
        self._relay_settings = relay
        self._role = role
        self.connection: AbstractRobustConnection | None = None
        self.publisher: RabbitPublisher | None = None
        self.consumer: Consumer | None = None
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._dlq_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.connection = await connect(self.settings, f"{self.service}-{self._role}")
        self.publisher = RabbitPublisher(self.connection, self.settings)
        await self.publisher.start()
        if self._router is not None:
            self.consumer = Consumer(self.connection, self._router, self.settings)
            await self.consumer.start()
            monitor = DlqDepthMonitor(
                self.connection,
                [route.queue for route in self._router.routes],
                self.settings.dlq_poll_interval_s,
            )
            self._dlq_task = asyncio.create_task(monitor.run(self._stop), name="dlq-depth")
        relay = OutboxRelay(self._engine, self.publisher, self._relay_settings)
        self._relay_task = asyncio.create_task(relay.run(self._stop), name="outbox-relay")
        log.info("bus started", role=self._role)

    @property
    def ready(self) -> bool:
        connected = self.connection is not None and not self.connection.is_closed
        consuming = self.consumer is None or self.consumer.ready
        relaying = self._relay_task is not None and not self._relay_task.done()
        publishing = self.publisher is not None and self.publisher.ready
        return connected and consuming and relaying and publishing

    async def stop(self) -> None:
        """Drain in-flight deliveries, stop the relay after its current batch, then disconnect."""
        if self.consumer is not None:
            await self.consumer.stop()
        self._stop.set()
        for task in (self._relay_task, self._dlq_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.publisher is not None:
            await self.publisher.close()
        if self.connection is not None:
            await self.connection.close()
        log.info("bus stopped", role=self._role)


async def run_until_signalled(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully (containers send SIGTERM)."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await start()
    try:
        await done.wait()
    finally:
        await stop()
