"""Problem details (RFC 9457): every refusal says what is wrong, in one JSON shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
        return problem_response(
            exc.status_code,
            type_=getattr(exc, "problem_type", "about:blank"),
            title=title_of(exc.status_code),
            detail=str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )
