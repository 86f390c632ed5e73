"""Notify's dependency aliases: the container, its bound use cases, the caller."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from notify import errors
from notify.container import Container
from notify.handlers import bounces, history, suppressions
from notify.models import Email, Suppression, SuppressionAudit
from servicekit.caller import CallerDep
from servicekit.deps import UseCase, container_of, use_case
from servicekit.tokens import Unauthenticated, bearer_token

__all__ = [
    "CallerDep",
    "ContainerDep",
    "EmailsOf",
    "HandleProviderEvents",
    "LiftSuppression",
    "OperatorDep",
    "SuppressionOf",
]

ContainerDep = Annotated[Container, Depends(container_of)]


def _operator(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Operators present NOTIFY_ADMIN_TOKEN; compared in constant time."""
    container: Container = container_of(request)
    expected = container.settings.admin_token.get_secret_value().encode()
    try:
        given = bearer_token(authorization).encode()
    except Unauthenticated as exc:
        raise errors.OperatorUnauthenticated() from exc
    if not hmac.compare_digest(given, expected):
        raise errors.OperatorUnauthenticated()


OperatorDep = Depends(_operator)
SuppressionOf = Annotated[UseCase[Suppression], Depends(use_case(suppressions.suppression_of))]
LiftSuppression = Annotated[
    UseCase[SuppressionAudit], Depends(use_case(suppressions.lift_suppression))
]
EmailsOf = Annotated[UseCase[list[Email]], Depends(use_case(history.emails_of))]
HandleProviderEvents = Annotated[UseCase[int], Depends(use_case(bounces.handle_provider_events))]
