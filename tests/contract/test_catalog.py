"""Cross-service contract tests over libs/events' catalog: what one service publishes, another
can consume; what is documented is what runs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from events import asyncapi, schemas
from events.catalog import CATALOG
from events.topology import dead_letter_queue, retry_queue

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "portfolio", "media", "notify", "search")


def test_every_consumed_type_has_a_producer() -> None:
    for sub in CATALOG.subscriptions:
        for event_type in sub.types:
            spec = CATALOG.event(event_type)
            assert spec.producer in SERVICES, f"{sub.queue} consumes {event_type} from nobody"


def test_every_published_type_has_a_consumer() -> None:
    # Publishing is mandatory-routed: a type no queue binds would be returned by the broker.
    orphans = [
        t for t, spec in CATALOG.events.items() if not spec.optional and not CATALOG.consumers_of(t)
    ]
    assert orphans == [], f"published but never consumed (the broker would return them): {orphans}"


def test_producers_and_consumers_are_the_platforms_services() -> None:
    assert set(CATALOG.services()) <= set(SERVICES)
    for sub in CATALOG.subscriptions:
        assert sub.handler.isidentifier(), sub.queue
        own = [t for t in sub.types if CATALOG.event(t).producer == sub.service]
        # Media hands its own uploads to its worker through the bus; portfolio clears its
        # shared cache from its own committed changes. Nothing else consumes its own events.
        allowed = ("media.process_upload", "portfolio.cache")
        assert not own or sub.queue in allowed, f"{sub.queue} consumes {own}"


def test_committed_schemas_match_the_models() -> None:
    problems = schemas.drift()
    assert problems == [], "schemas drifted (run `just contracts`):\n" + "\n".join(problems)


def test_no_committed_v1_schema_was_broken() -> None:
    for event_type in CATALOG.events:
        committed = json.loads((schemas.SCHEMA_DIR / f"{event_type}.json").read_text())
        assert schemas.breaking_changes(committed, schemas.data_schema(event_type)) == []


def test_the_asyncapi_document_is_current_and_shows_the_failure_paths() -> None:
    current = asyncapi.DOC_PATH.read_text()
    assert current == asyncapi.render(), "docs/asyncapi.yaml is stale: run `just contracts`"
    doc = yaml.safe_load(current)
    assert doc["asyncapi"] == "3.0.0"
    for sub in CATALOG.subscriptions:
        op = doc["operations"][sub.queue.replace(".", "_")]
        assert op["action"] == "receive"
        assert op["x-dlq"] == dead_letter_queue(sub.queue)
        assert [t["queue"] for t in op["x-retry-tiers"]] == [
            retry_queue(sub.queue, level) for level in range(1, len(sub.retry.delays) + 1)
        ]
    for event_type, spec in CATALOG.events.items():
        key = event_type.replace(".", "_")
        assert doc["operations"][f"{spec.producer}_publishes_{key}"]["action"] == "send"
