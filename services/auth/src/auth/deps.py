"""Auth's dependency aliases: the container, its bound use cases, the caller of a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Header, Request

from auth import errors
from auth.container import Container
from auth.handlers import login, recovery, registration, sessions
from auth.handlers.common import Client
from auth.models import TokenPair, User
from servicekit.deps import UseCase, container_of, use_case
from servicekit.tokens import bearer_token

ContainerDep = Annotated[Container, Depends(container_of)]


@dataclass(frozen=True)
class Caller:
    """The bearer of an access token auth signed: a user in a session."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def caller_of(container: Container, authorization: str | None) -> Caller:
    """Auth verifies its own tokens with its key ring (other services use the JWKS)."""
    token = bearer_token(authorization)
    try:
        claims = container.keys.decode(token, now=container.clock.now())
        return Caller(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    except jwt.ExpiredSignatureError as exc:
        raise errors.AccessTokenExpired() from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise errors.AccessTokenInvalid() from exc


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return caller_of(container_of(request), authorization)


def client_of(request: Request) -> Client:
    return Client(
        address=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent"),
    )


CallerDep = Annotated[Caller, Depends(_caller)]
ClientDep = Annotated[Client, Depends(client_of)]

RegisterUser = Annotated[UseCase[None], Depends(use_case(registration.register_user))]
VerifyEmail = Annotated[UseCase[User], Depends(use_case(registration.verify_email))]
ResendVerification = Annotated[UseCase[None], Depends(use_case(registration.resend_verification))]
Login = Annotated[UseCase[TokenPair], Depends(use_case(login.login))]
RefreshSession = Annotated[UseCase[TokenPair], Depends(use_case(sessions.refresh_session))]
Logout = Annotated[UseCase[None], Depends(use_case(sessions.logout))]
CurrentUser = Annotated[UseCase[User], Depends(use_case(sessions.current_user))]
LogoutEverywhere = Annotated[UseCase[int], Depends(use_case(sessions.logout_everywhere))]
RequestPasswordReset = Annotated[UseCase[None], Depends(use_case(recovery.request_password_reset))]
ResetPassword = Annotated[UseCase[None], Depends(use_case(recovery.reset_password))]
