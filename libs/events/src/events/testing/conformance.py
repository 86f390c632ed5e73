"""One test suite for every bus implementation: RabbitMQ, and the in-memory bus of the test kit.

Subclass `BusConformance` and provide a `harness` fixture; pytest collects the inherited tests.
Everything the in-memory bus claims (publish, routing, dispatch, dead-lettering) is asserted here,
so a service's unit test that trusts the in-memory bus trusts something proven on the broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

import pytest
from aio_pika.abc import AbstractRobustConnection

from events.catalog import CATALOG, Catalog, Subscription
from events.connection import connect
from events.consumer import Consumer
from events.contracts import UserLoggedInV1, UserRegisteredV1, UserVerifiedV1
from events.dlq import DeadLetterQueues
from events.envelope import Event, EventData
from events.errors import ContractViolation, PermanentError, Unroutable
from events.publisher import RabbitPublisher
from events.retry import RetryPolicy
from events.routing import Delivery, Router
from events.settings import BusSettings
from events.testing import InMemoryBus, example_event, wait_for

FAST = RetryPolicy(
    delays=(timedelta(milliseconds=20), timedelta(milliseconds=40)), immediate=0, jitter=0
)


class BusHarness(Protocol):
    async def start(self, router: Router) -> None: ...
    async def publish(self, event: Event[Any]) -> None: ...
    async def publish_raw(self, routing_key: str, body: bytes) -> None: ...
    async def settle(self, predicate: Callable[[], bool], what: str) -> None: ...
    async def dead_letters(self, queue: str) -> list[bytes]: ...


class MemoryHarness:
    def __init__(self) -> None:
        self.bus = InMemoryBus()

    async def start(self, router: Router) -> None:
        self.bus.include(router)

    async def publish(self, event: Event[Any]) -> None:
        await self.bus.publish(event)

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        await self.bus.publish_raw(routing_key, body)

    async def settle(self, predicate: Callable[[], bool], what: str) -> None:
        await self.bus.drain()
        assert predicate(), what

    async def dead_letters(self, queue: str) -> list[bytes]:
        await self.bus.drain()
        return [d.body for d in self.bus.dead_letters if d.queue == queue]


class RabbitHarness:
    def __init__(self, settings: BusSettings) -> None:
        self.settings = settings
        self.connection: AbstractRobustConnection | None = None
        self.publisher: RabbitPublisher | None = None
        self.consumers: list[Consumer] = []

    async def open(self) -> None:
        self.connection = await connect(self.settings, "conformance")
        self.publisher = RabbitPublisher(self.connection, self.settings)
        await self.publisher.start()

    async def start(self, router: Router) -> None:
        assert self.connection is not None
        consumer = Consumer(self.connection, router, self.settings, require_complete=False)
        await consumer.start()
        self.consumers.append(consumer)

    async def publish(self, event: Event[Any]) -> None:
        assert self.publisher is not None
        await self.publisher.publish(event)

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        assert self.publisher is not None and self.publisher._exchange is not None
        import aio_pika

        await self.publisher._exchange.publish(
            aio_pika.Message(body, content_type="application/cloudevents+json"),
            routing_key=routing_key,
            mandatory=True,
        )

    async def settle(self, predicate: Callable[[], bool], what: str) -> None:
        await wait_for(predicate, timeout=15, message=what)

    async def dead_letters(self, queue: str) -> list[bytes]:
        assert self.connection is not None
        ops = DeadLetterQueues(self.connection)
        return [m.body for m in await ops.browse(queue, limit=1000)]

    async def close(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        if self.publisher is not None:
            await self.publisher.close()
        if self.connection is not None:
            await self.connection.close()


def _catalog(*subs: Subscription) -> Catalog:
    return CATALOG.with_subscriptions(subs)


def _service() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


class Recorder:
    """A handler that records what it got, failing as told."""

    def __init__(self, fail_times: int = 0, error: type[Exception] = RuntimeError) -> None:
        self.seen: list[Delivery[Any]] = []
        self.fail_times = fail_times
        self.error = error

    async def __call__(self, delivery: Delivery[Any]) -> None:
        self.seen.append(delivery)
        if len(self.seen) <= self.fail_times:
            raise self.error(f"failure {len(self.seen)} of {self.fail_times}")


class BusConformance:
    """The behaviour every bus must show. Subclasses provide the `harness` fixture."""

    @pytest.fixture
    def harness(self) -> BusHarness:
        raise NotImplementedError

    def router(self, *consumes: tuple[str, type[EventData]], retry: RetryPolicy = FAST) -> Router:
        """A router for one fresh service whose handlers each consume one type."""
        service = _service()
        subs = [
            Subscription(service, handler, (model,), f"{handler} for tests", retry)
            for handler, model in consumes
        ]
        return Router(service, _catalog(*subs))

    async def test_round_trip_keeps_the_envelope(self, harness: BusHarness) -> None:
        seen = Recorder()
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, seen)
        await harness.start(router)
        event = example_event(UserRegisteredV1, correlation_id="corr-1", causation_id="cause-1")
        await harness.publish(event)
        await harness.settle(lambda: len(seen.seen) == 1, "the handler got the event")
        got = seen.seen[0].event
        assert got == event
        assert (got.id, got.correlationid, got.causationid) == (event.id, "corr-1", "cause-1")
        assert isinstance(got.data, UserRegisteredV1)
        assert seen.seen[0].attempt == 1

    async def test_events_published_while_handling_carry_correlation_and_cause(
        self, harness: BusHarness
    ) -> None:
        follow_ups = Recorder()

        async def react(delivery: Delivery[Any]) -> None:
            await harness.publish(example_event(UserVerifiedV1))

        router = self.router(("first", UserRegisteredV1), ("second", UserVerifiedV1))
        router.on("first", UserRegisteredV1, react)
        router.on("second", UserVerifiedV1, follow_ups)
        await harness.start(router)
        cause = example_event(UserRegisteredV1, correlation_id="workflow-9")
        await harness.publish(cause)
        await harness.settle(lambda: len(follow_ups.seen) == 1, "the follow-up was handled")
        effect = follow_ups.seen[0].event
        assert (effect.correlationid, effect.causationid) == ("workflow-9", str(cause.id))

    async def test_routes_to_every_bound_queue_and_only_those(self, harness: BusHarness) -> None:
        a, b, other = Recorder(), Recorder(), Recorder()
        router = self.router(
            ("a", UserRegisteredV1), ("b", UserRegisteredV1), ("other", UserVerifiedV1)
        )
        router.on("a", UserRegisteredV1, a)
        router.on("b", UserRegisteredV1, b)
        router.on("other", UserVerifiedV1, other)
        await harness.start(router)
        await harness.publish(example_event(UserRegisteredV1))
        await harness.publish(example_event(UserVerifiedV1))
        await harness.settle(
            lambda: len(a.seen) == len(b.seen) == len(other.seen) == 1,
            "each queue got exactly its type",
        )
        assert a.seen[0].event.type == b.seen[0].event.type == "user.registered.v1"
        assert other.seen[0].event.type == "user.verified.v1"

    async def test_a_type_no_queue_binds_is_unroutable(self, harness: BusHarness) -> None:
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, Recorder())
        await harness.start(router)
        with pytest.raises(Unroutable):
            await harness.publish(example_event(UserLoggedInV1))

    async def test_an_event_that_breaks_its_contract_is_refused(self, harness: BusHarness) -> None:
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, Recorder())
        await harness.start(router)
        good = example_event(UserRegisteredV1)
        lying = good.model_copy(update={"type": "user.verified.v1"})
        with pytest.raises(ContractViolation):
            await harness.publish(lying)

    async def test_a_malformed_payload_is_parked_without_calling_the_handler(
        self, harness: BusHarness
    ) -> None:
        seen = Recorder()
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, seen)
        await harness.start(router)
        body = example_event(UserRegisteredV1).body().replace(b'"user_id"', b'"userid"')
        await harness.publish_raw("user.registered.v1", body)
        queue = router.routes[0].queue
        await harness.settle(lambda: True, "")
        letters: list[bytes] = []

        async def parked() -> bool:
            letters[:] = await harness.dead_letters(queue)
            return len(letters) == 1

        await wait_for(parked, timeout=15, message="the malformed message reached the DLQ")
        assert letters == [body]
        assert seen.seen == []

    async def test_a_failing_handler_is_retried_then_parked(self, harness: BusHarness) -> None:
        seen = Recorder(fail_times=100)
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, seen)
        await harness.start(router)
        event = example_event(UserRegisteredV1)
        await harness.publish(event)
        queue = router.routes[0].queue
        letters: list[bytes] = []

        async def parked() -> bool:
            letters[:] = await harness.dead_letters(queue)
            return len(letters) == 1

        await wait_for(parked, timeout=15, message="the message reached the DLQ")
        assert [d.attempt for d in seen.seen] == [1, 2, 3]
        assert Event[UserRegisteredV1].model_validate_json(letters[0]).id == event.id

    async def test_the_dead_letter_hook_runs_once_before_parking(self, harness: BusHarness) -> None:
        calls: list[tuple[Delivery[Any], BaseException, str]] = []

        async def hook(delivery: Delivery[Any], error: BaseException, reason: str) -> None:
            calls.append((delivery, error, reason))

        seen = Recorder(fail_times=100)
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, seen)
        router.on_dead_letter("h", hook)
        await harness.start(router)
        event = example_event(UserRegisteredV1)
        await harness.publish(event)
        await harness.settle(lambda: len(calls) == 1, "the hook ran")
        delivery, error, reason = calls[0]
        assert (delivery.event.id, delivery.attempt, reason) == (event.id, 3, "retries_exhausted")
        assert isinstance(error, RuntimeError)

    async def test_a_permanent_error_is_parked_at_once(self, harness: BusHarness) -> None:
        seen = Recorder(fail_times=100, error=PermanentError)
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, seen)
        await harness.start(router)
        await harness.publish(example_event(UserRegisteredV1))
        letters: list[bytes] = []

        async def parked() -> bool:
            letters[:] = await harness.dead_letters(router.routes[0].queue)
            return len(letters) == 1

        await wait_for(parked, timeout=15, message="the message reached the DLQ")
        assert len(seen.seen) == 1

    async def test_a_handler_that_recovers_sees_growing_attempts(self, harness: BusHarness) -> None:
        seen = Recorder(fail_times=2)
        router = self.router(("h", UserRegisteredV1))
        router.on("h", UserRegisteredV1, seen)
        await harness.start(router)
        await harness.publish(example_event(UserRegisteredV1))
        await harness.settle(lambda: len(seen.seen) == 3, "three deliveries")
        assert [d.attempt for d in seen.seen] == [1, 2, 3]
        assert await harness.dead_letters(router.routes[0].queue) == []
