"""Schema compatibility rules for a v1 contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from events import schemas
from events.catalog import CATALOG, EventSpec
from events.envelope import EventData


def schema_of(model: type[EventData]) -> dict[str, Any]:
    return model.model_json_schema()


class V1(EventData):
    event_type: ClassVar[str] = "thing.happened.v1"
    producer: ClassVar[str] = "auth"
    thing_id: str
    count: int
    note: str | None = None


class AddsOptional(EventData):
    event_type: ClassVar[str] = "thing.happened.v1"
    producer: ClassVar[str] = "auth"
    thing_id: str
    count: int
    note: str | None = None
    colour: str = "blue"


class RemovesField(EventData):
    event_type: ClassVar[str] = "thing.happened.v1"
    producer: ClassVar[str] = "auth"
    thing_id: str
    note: str | None = None


class AddsRequired(EventData):
    event_type: ClassVar[str] = "thing.happened.v1"
    producer: ClassVar[str] = "auth"
    thing_id: str
    count: int
    note: str | None = None
    owner: str


class ChangesType(EventData):
    event_type: ClassVar[str] = "thing.happened.v1"
    producer: ClassVar[str] = "auth"
    thing_id: str
    count: str
    note: str | None = None


def test_a_new_optional_field_is_compatible() -> None:
    assert schemas.breaking_changes(schema_of(V1), schema_of(AddsOptional)) == []


def test_a_removed_field_breaks() -> None:
    assert schemas.breaking_changes(schema_of(V1), schema_of(RemovesField)) == [
        "count: field removed"
    ]


def test_a_new_required_field_breaks() -> None:
    assert schemas.breaking_changes(schema_of(V1), schema_of(AddsRequired)) == [
        "owner: new required field"
    ]


def test_a_changed_type_breaks() -> None:
    [problem] = schemas.breaking_changes(schema_of(V1), schema_of(ChangesType))
    assert problem.startswith("count: type changed")


def test_writing_refuses_a_breaking_change_and_keeps_the_file(tmp_path: Path) -> None:
    catalog = CATALOG.with_subscriptions([])
    catalog.events = {"thing.happened.v1": EventSpec(V1, "a thing")}
    assert schemas.write(tmp_path, catalog) == []
    before = (tmp_path / "thing.happened.v1.json").read_text()
    catalog.events = {"thing.happened.v1": EventSpec(RemovesField, "a thing")}
    problems = schemas.write(tmp_path, catalog)
    assert problems == ["thing.happened.v1.json: count: field removed"]
    assert (tmp_path / "thing.happened.v1.json").read_text() == before
    assert any("count" in p for p in schemas.drift(tmp_path, catalog))


def test_drift_is_reported_as_a_diff(tmp_path: Path) -> None:
    catalog = CATALOG.with_subscriptions([])
    catalog.events = {"thing.happened.v1": EventSpec(V1, "a thing")}
    schemas.write(tmp_path, catalog)
    path = tmp_path / "thing.happened.v1.json"
    data = json.loads(path.read_text())
    data["properties"]["count"]["type"] = "string"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    [diff] = schemas.drift(tmp_path, catalog)
    assert diff.startswith("--- committed/thing.happened.v1.json")
    assert '-      "type": "string"' in diff and '+      "type": "integer"' in diff
