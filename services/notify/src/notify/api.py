"""Notify's HTTP routes: the provider's event webhook, and a person's own email history."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from notify import handlers, webhook_signature
from notify.bootstrap import Container
from notify.models import EmailPublic
from servicekit.problems import Problem
from servicekit.tokens import Claims, JwksVerifier, bearer


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_verifier(request: Request) -> JwksVerifier:
    return get_container(request).verifier


ContainerDep = Annotated[Container, Depends(get_container)]
CallerDep = Annotated[Claims, Depends(bearer(get_verifier))]

router = APIRouter(tags=["notify"])

MAX_WEBHOOK_BODY = 4 * 1024 * 1024
"""SendGrid posts batches well under a megabyte; anything far larger is not SendGrid."""


async def _read_limited(request: Request, limit: int) -> bytes:
    """The raw body (the signature covers these bytes, not a re-encoding), refused past `limit`
    before it is all in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, "body-too-large", f"The body exceeds {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "body-too-large", f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/email-events", summary="SendGrid's signed event webhook")
async def email_events(request: Request, c: ContainerDep) -> dict[str, int]:
    if c.webhook_key is None:
        raise Problem(
            503,
            "webhook-not-configured",
            "NOTIFY_WEBHOOK_PUBLIC_KEY is not set: signed events cannot be checked.",
        )
    body = await _read_limited(request, MAX_WEBHOOK_BODY)
    try:
        webhook_signature.verify(
            c.webhook_key,
            signature=request.headers.get(webhook_signature.SIGNATURE_HEADER),
            timestamp=request.headers.get(webhook_signature.TIMESTAMP_HEADER),
            body=body,
            now=c.clock.now(),
            tolerance=c.settings.webhook_tolerance,
        )
    except webhook_signature.SignatureMissing as exc:
        raise Problem(
            401, "signature-missing", str(exc), headers={"WWW-Authenticate": "Signature"}
        ) from exc
    except webhook_signature.SignatureInvalid as exc:
        raise Problem(403, "signature-invalid", str(exc)) from exc
    try:
        items = json.loads(body)
    except ValueError as exc:
        raise Problem(400, "invalid-json", "The body is not JSON.") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Problem(422, "invalid-events", "The body must be a JSON array of event objects.")
    handled = await handlers.handle_provider_events(items, uow=c.uow, clock=c.clock)
    return {"received": len(items), "handled": handled}


@router.get(
    "/emails",
    response_model=list[EmailPublic],
    summary="The caller's emails, newest first (bearer token from auth)",
)
async def my_emails(caller: CallerDep, c: ContainerDep) -> list[EmailPublic]:
    emails = await handlers.emails_of(caller.user_id, uow=c.uow)
    return [EmailPublic.model_validate(e, from_attributes=True) for e in emails]


def include_routes(app: FastAPI) -> None:
    app.include_router(router)
