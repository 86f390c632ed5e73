"""The AsyncAPI 3.0 document, generated from the catalog: what flows and what happens on failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from events.catalog import CATALOG, Catalog, Subscription
from events.envelope import CONTENT_TYPE, Envelope
from events.settings import BusSettings
from events.topology import dead_letter_queue, retry_queue

DOC_PATH = Path(__file__).resolve().parents[4] / "docs" / "asyncapi.yaml"
_REF = "#/components/schemas/{model}"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _failure_path(sub: Subscription, settings: BusSettings) -> dict[str, Any]:
    policy = sub.retry
    return {
        "x-queue": sub.queue,
        "x-queue-type": "quorum",
        "x-immediate-retries": policy.immediate,
        "x-retry-tiers": [
            {"queue": retry_queue(sub.queue, level), "delay-ms": _ms(delay.total_seconds())}
            for level, delay in enumerate(policy.delays, start=1)
        ],
        "x-retry-jitter": policy.jitter,
        "x-max-attempts": policy.attempts,
        "x-retry-budget-ms": _ms(policy.budget.total_seconds()) if policy.budget else None,
        "x-dlq": dead_letter_queue(sub.queue),
        "x-delivery-limit": settings.delivery_limit,
        "x-non-retryable": ["events.errors.ContractViolation", "events.errors.PermanentError"],
    }


def build(catalog: Catalog = CATALOG, settings: BusSettings | None = None) -> dict[str, Any]:
    settings = settings or BusSettings()
    specs = list(catalog.events.values())
    _, defs = models_json_schema(
        [(Envelope, "validation"), *[(s.model, "validation") for s in specs]],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    exchange = {
        "name": settings.exchange,
        "type": "topic",
        "durable": True,
        "autoDelete": False,
        "vhost": "/",
    }
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in specs:
        key = spec.type.replace(".", "_")
        messages[key] = {
            "name": spec.type,
            "title": spec.model.__name__,
            "summary": spec.summary,
            "contentType": CONTENT_TYPE,
            "correlationId": {"location": "$message.payload#/correlationid"},
            "payload": {
                "allOf": [
                    {"$ref": _REF.format(model="Envelope")},
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "type": {"const": spec.type},
                            "source": {"const": f"/{spec.producer}"},
                            "data": {"$ref": _REF.format(model=spec.model.__name__)},
                        },
                    },
                ]
            },
            "bindings": {"amqp": {"deliveryMode": 2, "messageType": spec.type}},
            "x-producer": spec.producer,
            "x-consumers": [s.queue for s in catalog.consumers_of(spec.type)],
        }
        channels[key] = {
            "address": spec.type,
            "title": f"{spec.type} on the {settings.exchange} exchange",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": exchange}},
        }
        operations[f"{spec.producer}_publishes_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{spec.producer} publishes through its outbox (confirms, mandatory).",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            **({"x-optional": True} if spec.optional else {}),
        }
    for sub in catalog.subscriptions:
        key = sub.queue.replace(".", "_")
        consumed = {
            t.replace(".", "_"): {"$ref": f"#/components/messages/{t.replace('.', '_')}"}
            for t in sub.types
        }
        channels[key] = {
            "address": sub.queue,
            "title": f"queue {sub.queue}",
            "description": sub.summary,
            "messages": consumed,
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": sub.queue,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                }
            },
            "x-bound-routing-keys": list(sub.types),
        }
        operations[key] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": sub.summary,
            "messages": [{"$ref": f"#/channels/{key}/messages/{m}"} for m in consumed],
            "bindings": {"amqp": {"ack": True}},
            **_failure_path(sub, settings),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Portfolio platform events",
            "version": "1.0.0",
            "description": (
                "Generated by `python -m events asyncapi --write` from libs/events' catalog; do "
                "not edit. Every event is a CloudEvents 1.0 envelope in structured JSON mode on "
                "the topic exchange, routed by its type. Each receive operation is a handler's "
                "quorum queue; its x- extensions give the failure path: immediate retries, the "
                "delay tiers (each its own queue dead-lettering back), the DLQ, and the "
                "delivery-limit backstop."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ 3.10+ (quorum queues with message TTL).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(catalog: Catalog = CATALOG) -> str:
    return yaml.safe_dump(build(catalog), sort_keys=False, width=100, allow_unicode=True)
