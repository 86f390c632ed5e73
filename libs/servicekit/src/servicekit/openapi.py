"""An OpenAPI document that tells the truth about errors: what every route can answer besides
what it declares itself, documented once here for every service.

FastAPI documents a 422 with its own validation schema, but our handlers answer problem+json;
and refusals that come from the edge (the body limit, a missing or invalid bearer token) are
raised outside the route, where its `responses=` cannot see them. This walks each route's
dependencies and fills those in, so a client (or schemathesis) can rely on the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

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

_AUTHENTICATED: set[Callable[..., Any]] = set()


def requires_token(dependency: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a dependency that answers 401 without a valid bearer token (servicekit.caller's)."""
    _AUTHENTICATED.add(dependency)
    return dependency


def _problem(description: str, schema: dict[str, Any] = PROBLEM_SCHEMA) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": schema}}}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _complete(operation: dict[str, Any], route: APIRoute) -> None:
    answers: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in answers:
        answers["422"] = _problem("The request is not valid", VALIDATION_SCHEMA)
    if "requestBody" in operation:
        answers.setdefault("413", _problem("Content too large"))
        if "422" not in answers:  # a body that is not JSON is refused the same way
            answers["422"] = _problem("The request is not valid", VALIDATION_SCHEMA)
    if any(call in _AUTHENTICATED for call in _calls(route.dependant)):
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
            for route in app.routes:
                if not isinstance(route, APIRoute) or not route.include_in_schema:
                    continue
                path = schema.get("paths", {}).get(route.path_format, {})
                for method in route.methods or ():
                    operation = path.get(method.lower())
                    if operation is not None:
                        _complete(operation, route)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
