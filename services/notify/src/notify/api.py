"""Notify's HTTP routes: the provider's event webhook, and a person's own email history."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request

from notify import errors, webhook_signature
from notify.deps import (
    CallerDep,
    ContainerDep,
    EmailsOf,
    HandleProviderEvents,
    LiftSuppression,
    OperatorDep,
    SuppressionOf,
)
from notify.models import EmailPublic, LiftRequest, SuppressionAudit, SuppressionPublic
from servicekit.limits import BodyTooLarge, read_limited
from servicekit.problems import responses

router = APIRouter(tags=["notify"])
admin = APIRouter(prefix="/admin", tags=["operators"], dependencies=[OperatorDep])
"""Served on the ops port only (never published); operators authenticate with a bearer token."""

MAX_WEBHOOK_BODY = 4 * 1024 * 1024
"""SendGrid posts batches well under a megabyte; anything far larger is not SendGrid."""


@router.post(
    "/webhooks/email-events",
    summary="SendGrid's signed event webhook",
    responses=responses(
        errors.WebhookNotConfigured,
        errors.SignatureMissing,
        errors.SignatureInvalid,
        errors.InvalidJson,
        errors.InvalidEvents,
        BodyTooLarge,
    ),
)
async def email_events(
    request: Request, c: ContainerDep, handle_provider_events: HandleProviderEvents
) -> dict[str, int]:
    if c.webhook_key is None:
        raise errors.WebhookNotConfigured()
    body = await read_limited(request, MAX_WEBHOOK_BODY)
    webhook_signature.verify(
        c.webhook_key,
        signature=request.headers.get(webhook_signature.SIGNATURE_HEADER),
        timestamp=request.headers.get(webhook_signature.TIMESTAMP_HEADER),
        body=body,
        now=c.clock.now(),
        tolerance=c.settings.webhook_tolerance,
    )
    try:
        items = json.loads(body)
    except ValueError as exc:
        raise errors.InvalidJson() from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise errors.InvalidEvents()
    handled = await handle_provider_events(items)
    return {"received": len(items), "handled": handled}


@router.get(
    "/emails",
    response_model=list[EmailPublic],
    summary="The caller's emails, newest first (bearer token from auth)",
)
async def my_emails(caller: CallerDep, emails_of: EmailsOf) -> list[EmailPublic]:
    emails = await emails_of(caller.user_id)
    return [EmailPublic.model_validate(e, from_attributes=True) for e in emails]


@admin.get(
    "/suppressions/{address}",
    response_model=SuppressionPublic,
    summary="Whether an address is suppressed, why and since when",
    responses=responses(errors.OperatorUnauthenticated, errors.NotSuppressed),
)
async def suppression(address: str, suppression_of: SuppressionOf) -> SuppressionPublic:
    found = await suppression_of(address)
    return SuppressionPublic(
        address=found.address_key,
        reason=found.reason,
        detail=found.detail,
        created_at=found.created_at,
    )


@admin.post(
    "/suppressions/{address}/lift",
    response_model=SuppressionAudit,
    summary="Lift an address's suppression (audited: who, when, why, and what was lifted)",
    responses=responses(errors.OperatorUnauthenticated, errors.NotSuppressed),
)
async def lift(
    address: str, body: LiftRequest, lift_suppression: LiftSuppression
) -> SuppressionAudit:
    return await lift_suppression(address, body)
