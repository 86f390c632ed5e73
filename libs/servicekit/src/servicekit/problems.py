"""Problem details (RFC 9457): every refusal says what is wrong, in one JSON shape."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.errors import TYPE_BASE, DomainError, Problem, ProblemDetails, title_of

MEDIA_TYPE = "application/problem+json"

__all__ = ["MEDIA_TYPE", "Problem", "install_problem_handlers", "problem_response", "responses"]


def problem_response(
    status: int,
    *,
    type_: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _respond(details: ProblemDetails, instance: str) -> JSONResponse:
    return problem_response(
        details.status,
        type_=details.type,
        title=details.title,
        detail=details.detail,
        instance=instance,
        headers=details.headers,
        **details.extensions,
    )


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def responses(*errors: type[DomainError] | int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each error's status documented as problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        status = error if isinstance(error, int) else error.status
        titles = out.get(status, {}).get("description", "")
        title = title_of(status) if isinstance(error, int) else error.title
        description = f"{titles}; {title}" if titles and title not in titles else title
        out[status] = {
            "description": description,
            "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
    return out


UNSTORABLE_TEXT = {"22021", "22P05"}
"""character_not_in_repertoire, untranslatable_character: PostgreSQL refuses a character of
the input (a NUL in any text): the request's fault, whichever field a service forgot to
constrain, and the transaction is rolled back with the error."""


def _sqlstate(exc: BaseException) -> str | None:
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return None
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str):
            return code
        current = getattr(current, "orig", None) or current.__cause__
    return None


@cache
def _path_patterns(app: FastAPI) -> list[tuple[int, re.Pattern[str], frozenset[str]]]:
    """The documented methods of each path template, as the OpenAPI document lists them, with
    how many parameters the template has (fewer is more specific)."""
    patterns = []
    for template, operations in app.openapi().get("paths", {}).items():
        regex = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        methods = frozenset(m.upper() for m in operations)
        patterns.append((template.count("{"), re.compile(f"^{regex}$"), methods))
    return patterns


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method a path answers (Starlette's 405 names only the first route it met); of
    templates that both match (`/items/order`, `/items/{id}`), the most specific one."""
    matches = [(params, methods) for params, p, methods in _path_patterns(app) if p.match(path)]
    if not matches:
        return []
    fewest = min(params for params, _ in matches)
    return sorted(set().union(*(methods for params, methods in matches if params == fewest)))


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error a request can meet to problem details."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return _respond(exc.problem(), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": list(err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        return problem_response(
            422,
            type_=TYPE_BASE + "validation",
            title="Your request is not valid",
            detail="; ".join(
                f"{'.'.join(map(str, e['location']))}: {e['message']}" for e in errors
            ),
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem_response(
            exc.status_code,
            type_=getattr(exc, "problem_type", "about:blank"),
            title=title_of(exc.status_code),
            detail=str(exc.detail),
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if _sqlstate(exc) not in UNSTORABLE_TEXT:
            raise exc  # a fault of ours: the 500 path logs and reports it
        return problem_response(
            422,
            type_=TYPE_BASE + "unstorable-text",
            title="Your request is not valid",
            detail="The text holds a character that cannot be stored (a NUL, or one the "
            "database's encoding lacks).",
            instance=request.url.path,
        )
