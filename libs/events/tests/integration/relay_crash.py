"""Run one outbox relay pass that dies (SIGKILL) right after the broker confirms its publishes.

Used by test_outbox.py as a subprocess: a real process killed between publish and mark.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from events._amqp import Meta
from events.connection import connect
from events.db import create_engine
from events.outbox import OutboxRelay
from events.publisher import RabbitPublisher
from events.settings import BusSettings


class DieAfterPublish:
    def __init__(self, inner: RabbitPublisher) -> None:
        self.inner = inner

    @property
    def ready(self) -> bool:
        return self.inner.ready

    async def publish_body(self, meta: Meta, body: bytes) -> None:
        await self.inner.publish_body(meta, body)
        os.kill(os.getpid(), signal.SIGKILL)  # confirmed by the broker, not yet marked


async def main(database_url: str, amqp_url: str, exchange: str) -> None:
    settings = BusSettings(amqp_url=amqp_url, exchange=exchange)  # type: ignore[arg-type]
    connection = await connect(settings, "relay-crash")
    publisher = RabbitPublisher(connection, settings)
    await publisher.start()
    relay = OutboxRelay(create_engine(database_url), DieAfterPublish(publisher))
    await relay.relay_once()
    raise SystemExit("the relay was expected to die before returning")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
