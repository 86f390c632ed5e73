"""The workflow report: every e2e test's events, per correlation id, as a Mermaid sequence
diagram a person reads as a picture (`.e2e/<run>/report.md`).

What went on the exchange comes from the tap; who received it, from the catalog (each queue bound
to the type, of the services running); retries and dead-letters, from the services' JSON logs
(the consumer logs each with the event's id). An event a handler published is drawn from that
handler's queue, by its causation id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from events.catalog import CATALOG
from events.testing import Tapped

DRAWN = 5
"""Diagrams per test; a test of a hundred registrations lists the rest by their sequence."""


@dataclass
class Workflow:
    correlation_id: str
    events: list[Tapped] = field(default_factory=list)


def _fates(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """(event id, queue) -> what happened to that delivery beyond plain success, in order."""
    fates: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in records:
        event_id, queue = record.get("event_id"), record.get("queue")
        if not event_id or not queue:
            continue
        if record.get("event") == "retry scheduled":
            fates[(event_id, queue)].append(
                f"retry level {record.get('retry_level')}, attempt {record.get('next_attempt')} "
                f"in {record.get('delay_ms')} ms"
            )
        elif record.get("event") == "message dead-lettered":
            fates[(event_id, queue)].append(f"DLQ: {record.get('reason')}")
    return fates


def diagram(workflow: Workflow, services: set[str], records: list[dict[str, Any]]) -> str:
    fates = _fates(records)
    names: dict[str, str] = {}

    def alias(name: str) -> str:
        if name not in names:
            names[name] = f"p{len(names)}"
        return names[name]

    lines: list[str] = []
    delivered_to: dict[str, list[str]] = {}
    for tapped in workflow.events:
        event = tapped.event
        producer = event.source.lstrip("/")
        origin = next(
            (q for q in delivered_to.get(event.causationid or "", []) if q.startswith(producer)),
            producer,
        )
        lines.append(f"    {alias(origin)}->>{alias('exchange')}: {event.type}")
        queues = [s.queue for s in CATALOG.consumers_of(event.type) if s.service in services]
        delivered_to[str(event.id)] = queues
        for queue in queues:
            lines.append(f"    {alias('exchange')}->>{alias(queue)}: {event.type}")
            for fate in fates.get((str(event.id), queue), []):
                if fate.startswith("DLQ"):
                    lines.append(f"    {alias(queue)}-x{alias(queue + '.dlq')}: {fate}")
                else:
                    lines.append(f"    {alias(queue)}-->>{alias(queue)}: {fate}")
    head = ["```mermaid", "sequenceDiagram"]
    head += [f"    participant {a} as {n}" for n, a in names.items()]
    return "\n".join([*head, *lines, "```"])


def render(
    test: str,
    tapped: list[Tapped],
    services: set[str],
    records: list[dict[str, Any]],
    outcome: str,
) -> str:
    workflows: dict[str, Workflow] = {}
    for item in tapped:
        key = item.event.correlationid
        workflows.setdefault(key, Workflow(key)).events.append(item)
    parts = [f"## {test} ({outcome})", ""]
    if not workflows:
        parts.append("No event went on the exchange during this test.")
    drawn = list(workflows.values())[:DRAWN]
    if len(workflows) > DRAWN:
        shapes: dict[str, int] = defaultdict(int)
        for workflow in list(workflows.values())[DRAWN:]:
            shapes[", ".join(t.event.type for t in workflow.events)] += 1
        parts += [f"{len(workflows)} workflows; the first {DRAWN} are drawn, the rest were:", ""]
        parts += [f"- {count} x {shape}" for shape, count in shapes.items()] + [""]
    for workflow in drawn:
        sequence = ", ".join(t.event.type for t in workflow.events)
        parts += [f"Correlation `{workflow.correlation_id}`: {sequence}", ""]
        parts += [diagram(workflow, services, records), ""]
    return "\n".join(parts) + "\n"


def append(path: Path, section: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("# Workflow report\n\nEach e2e test's events, per correlation id.\n\n")
    with path.open("a") as report:
        report.write(section)
