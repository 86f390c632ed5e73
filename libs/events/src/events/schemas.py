"""Committed JSON Schemas for every contract, and the compatibility rules a v1 must keep.

The committed files are the baseline: a model that drifts from its file fails the contract tests
with a diff, and rewriting a file is refused when the change would break a consumer (a removed
field, a new required field, a changed type or constraint). A breaking change is a new type (.v2).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from events.catalog import CATALOG, Catalog
from events.envelope import Envelope

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
ENVELOPE_FILE = "cloudevent.envelope.json"
_NOT_TYPE = {"description", "title", "examples", "default", "$comment"}


def data_schema(event_type: str, catalog: Catalog = CATALOG) -> dict[str, Any]:
    spec = catalog.event(event_type)
    schema = spec.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:portfolio:events:{event_type}",
        **schema,
        "title": event_type,
        "description": spec.summary,
        "x-producer": spec.producer,
    }


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="validation")
    schema["properties"]["data"] = {"type": "object", "description": "The event type's payload."}
    schema["required"] = [*schema.get("required", []), "data"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:portfolio:events:envelope",
        **schema,
        "title": "CloudEvents 1.0 envelope (structured JSON mode)",
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files(catalog: Catalog = CATALOG) -> dict[str, str]:
    files = {f"{t}.json": render(data_schema(t, catalog)) for t in catalog.events}
    files[ENVELOPE_FILE] = render(envelope_schema())
    return files


def drift(directory: Path = SCHEMA_DIR, catalog: Catalog = CATALOG) -> list[str]:
    """Every difference between the models and the committed files, as unified diffs."""
    problems = []
    expected = expected_files(catalog)
    for name, text in expected.items():
        path = directory / name
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"committed/{name}",
                    tofile=f"model/{name}",
                )
            )
            problems.append(diff or f"{name} is missing")
    for path in sorted(directory.glob("*.json")):
        if path.name not in expected:
            problems.append(f"{path.name} has no event type in the catalog")
    return problems


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _signature(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """What a value must look like, with documentation stripped and references resolved."""
    schema = _resolve(schema, root)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NOT_TYPE or key == "properties" or key == "required":
            continue
        if isinstance(value, dict):
            out[key] = _signature(value, root)
        elif isinstance(value, list):
            out[key] = [_signature(v, root) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def breaking_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    path: str = "",
    roots: tuple[Any, Any] | None = None,
) -> list[str]:
    """Why `new` would break a consumer or producer that relies on `old` (empty if compatible)."""
    old_root, new_root = roots or (old, new)
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}{name}: field removed")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(
            f"{path}{name}: " + ("now required" if name in old_props else "new required field")
        )
    for name, old_field in old_props.items():
        if name not in new_props:
            continue
        new_field = new_props[name]
        old_sig = _signature(old_field, old_root)
        new_sig = _signature(new_field, new_root)
        if old_sig != new_sig:
            problems.append(f"{path}{name}: type changed from {old_sig} to {new_sig}")
        problems += breaking_changes(
            old_field, new_field, path=f"{path}{name}.", roots=(old_root, new_root)
        )
    return problems


def write(
    directory: Path = SCHEMA_DIR, catalog: Catalog = CATALOG, *, force: bool = False
) -> list[str]:
    """Rewrite the committed schemas; refuses (and returns why) when a change is breaking."""
    problems: list[str] = []
    for name, text in expected_files(catalog).items():
        path = directory / name
        if path.exists() and not force:
            problems += [
                f"{name}: {p}"
                for p in breaking_changes(json.loads(path.read_text()), json.loads(text))
            ]
    if problems:
        return problems
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in expected_files(catalog).items():
        (directory / name).write_text(text)
    return []
