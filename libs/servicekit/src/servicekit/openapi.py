"""An OpenAPI document that tells the truth about errors: what every route can answer besides
what it declares itself, documented once here for every service.

FastAPI documents a 422 with its own validation schema, but our handlers answer problem+json;
and refusals that come from the edge (the body limit, a missing or invalid bearer token) are
raised outside the route, where its `responses=` cannot see them. This fills those in from
each operation's shape (a body, a bearer token header), so a client (or schemathesis) can rely
on the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from servicekit.problems import MEDIA_TYPE, PROBLEM_SCHEMA

VALIDATION_SCHEMA: dict[str, Any] = {
    **PROBLEM_SCHEMA,
    "properties": {
        **PROBLEM_SCHEMA["properties"],
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "array", "items": {}},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def _problem(description: str, schema: dict[str, Any] = PROBLEM_SCHEMA) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": schema}}}


def _reads_a_token(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and str(p.get("name", "")).lower() == "authorization"
        for p in operation.get("parameters", [])
    )


def complete(operation: dict[str, Any]) -> None:
    """Add the answers every operation of this shape can give, whatever its route declares."""
    answers: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in answers and MEDIA_TYPE not in answers["422"].get("content", {}):
        answers["422"] = _problem("The request is not valid", VALIDATION_SCHEMA)
    if "requestBody" in operation:
        answers.setdefault("400", _problem("The body cannot be read (not UTF-8 JSON)"))
        answers.setdefault("413", _problem("Content too large"))
        answers.setdefault("422", _problem("The request is not valid", VALIDATION_SCHEMA))
    if _reads_a_token(operation):  # servicekit.caller's dependencies, and auth's own
        answers.setdefault("401", _problem("Unauthorized"))


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that completes every operation's error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    complete(operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
