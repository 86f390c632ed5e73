"""The envelope: CloudEvents attributes, correlation inherited from context, strict contracts."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from events import Correlation, Event, correlated, new_event
from events.catalog import Subscription
from events.contracts import UserRegisteredV1
from events.errors import ContractViolation
from events.routing import Route
from events.testing import example


def test_an_event_is_a_structured_mode_cloudevent() -> None:
    event = new_event(example(UserRegisteredV1), subject="u-1")
    body = json.loads(event.body())
    assert body["specversion"] == "1.0"
    assert body["type"] == "user.registered.v1"
    assert body["source"] == "/auth"  # the catalog's producer
    assert body["datacontenttype"] == "application/json"
    assert body["subject"] == "u-1"
    assert uuid.UUID(body["id"])
    assert {"correlationid", "causationid", "traceparent", "time", "data"} <= body.keys()


def test_events_created_while_handling_inherit_correlation_and_name_their_cause() -> None:
    with correlated(Correlation("req-42", causation_id="evt-1", traceparent="00-abc-def-01")):
        event = new_event(example(UserRegisteredV1), subject=None)
    assert (event.correlationid, event.causationid, event.traceparent) == (
        "req-42",
        "evt-1",
        "00-abc-def-01",
    )


def test_an_event_outside_any_work_starts_a_new_correlation() -> None:
    a = new_event(example(UserRegisteredV1), subject=None)
    b = new_event(example(UserRegisteredV1), subject=None)
    assert a.correlationid != b.correlationid and a.causationid is None


def test_a_consumer_tolerates_fields_added_by_a_newer_producer() -> None:
    event = new_event(example(UserRegisteredV1), subject=None)
    body = json.loads(event.body())
    body["data"]["locale"] = "fr"  # a compatible addition
    body["newextension"] = "x"
    parsed = Event[UserRegisteredV1].model_validate_json(json.dumps(body))
    assert parsed.data == event.data


def test_a_type_without_a_version_is_refused() -> None:
    body = json.loads(new_event(example(UserRegisteredV1), subject=None).body())
    body["type"] = "user.registered"
    with pytest.raises(ValidationError):
        Event[UserRegisteredV1].model_validate_json(json.dumps(body))


def test_decoding_refuses_what_breaks_the_contract() -> None:
    route = Route(Subscription("s", "h", (UserRegisteredV1,), "test"))
    good = new_event(example(UserRegisteredV1), subject=None).body()
    assert route.decode(good).type == "user.registered.v1"
    with pytest.raises(ContractViolation, match="not JSON"):
        route.decode(b"{nope")
    with pytest.raises(ContractViolation, match="does not consume"):
        route.decode(good.replace(b"user.registered.v1", b"user.verified.v1"))
    with pytest.raises(ContractViolation, match="breaks its contract"):
        route.decode(good.replace(b'"display_name"', b'"name"'))
    with pytest.raises(ContractViolation):  # the AMQP type must match the envelope's
        route.decode(good, "user.verified.v1")
