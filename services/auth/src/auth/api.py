"""Auth's HTTP routes: parse, call a use case, map domain errors to problem details."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response, status

from auth import errors, handlers
from auth.bootstrap import Container
from auth.models import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    Registered,
    ResendRequest,
    TokenPair,
    UserCreate,
    UserPublic,
    VerifyRequest,
)
from servicekit.problems import Problem
from servicekit.tokens import bearer_token

_BEARER = {"WWW-Authenticate": 'Bearer realm="portfolio"'}
_INVALID_TOKEN = {"WWW-Authenticate": 'Bearer realm="portfolio", error="invalid_token"'}

# One table from domain error to problem: (status, type slug, detail).
_PROBLEMS: dict[type[errors.AuthError], tuple[int, str, str]] = {
    errors.InvalidEmail: (422, "invalid-email", "That is not an email address we can send to."),
    errors.InvalidDisplayName: (422, "invalid-display-name", "A display name is required."),
    errors.EmailTaken: (409, "email-taken", "An account with this email already exists."),
    errors.VerificationTokenUnknown: (
        400,
        "verification-token-unknown",
        "This verification link is not valid.",
    ),
    errors.VerificationTokenExpired: (
        410,
        "verification-token-expired",
        "This verification link has expired.",
    ),
    errors.VerificationTokenUsed: (
        409,
        "verification-token-used",
        "This verification link was already used.",
    ),
    errors.InvalidCredentials: (401, "invalid-credentials", "The email or password is wrong."),
    errors.AccountPending: (
        403,
        "email-not-verified",
        "Verify your email address first: follow the link we sent.",
    ),
    errors.AccountDisabled: (403, "account-disabled", "This account is disabled."),
    errors.RefreshTokenInvalid: (401, "invalid-refresh-token", "Log in again."),
    errors.RefreshTokenReused: (
        401,
        "refresh-token-reused",
        "This session was ended because its refresh token was used twice; log in again.",
    ),
    errors.SessionRevoked: (401, "session-ended", "This session has ended; log in again."),
}


def problem(exc: errors.AuthError) -> Problem:
    if isinstance(exc, errors.WeakPassword):
        return Problem(422, exc.code, str(exc), title="Choose another password")
    if isinstance(exc, errors.Throttled):
        seconds = max(1, math.ceil(exc.retry_after.total_seconds()))
        return Problem(
            429,
            "too-many-attempts",
            f"Too many failed attempts; try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
        )
    code, slug, detail = _PROBLEMS[type(exc)]
    # A use case may say more precisely what is wrong (which part of an address, why a link
    # expired); its messages are written for the user and never carry secrets.
    message = str(exc) or detail
    headers = _INVALID_TOKEN if code == 401 and slug != "invalid-credentials" else None
    return Problem(code, slug, message, headers=headers)


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    session_id: uuid.UUID


def authenticate(
    container: Annotated[Container, Depends(get_container)],
    authorization: Annotated[str | None, Header()] = None,
) -> Caller:
    token = bearer_token(authorization)
    try:
        claims = container.keys.decode(token, now=container.clock.now())
        return Caller(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    except jwt.ExpiredSignatureError as exc:
        raise Problem(
            401,
            "invalid-token",
            "The access token has expired; refresh it.",
            headers=_INVALID_TOKEN,
        ) from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise Problem(
            401, "invalid-token", "The access token is not valid.", headers=_INVALID_TOKEN
        ) from exc


ContainerDep = Annotated[Container, Depends(get_container)]
CallerDep = Annotated[Caller, Depends(authenticate)]

router = APIRouter(prefix="/auth", tags=["auth"])
wellknown = APIRouter(tags=["keys"])


def _no_store(response: Response) -> None:
    # Tokens in a response must never sit in a cache.
    response.headers["Cache-Control"] = "no-store"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=Registered,
    summary="Create an account (pending until the email is verified)",
)
async def register(body: UserCreate, c: ContainerDep) -> Registered:
    try:
        user = await handlers.register_user(
            body, uow=c.uow, hasher=c.hasher, policy=c.policy, clock=c.clock, settings=c.settings
        )
    except errors.AuthError as exc:
        raise problem(exc) from exc
    return Registered(id=user.id, status=user.status)


@router.post("/verify", response_model=UserPublic, summary="Verify an email with the token")
async def verify(body: VerifyRequest, c: ContainerDep) -> UserPublic:
    try:
        user = await handlers.verify_email(body.token, uow=c.uow, clock=c.clock)
    except errors.AuthError as exc:
        raise problem(exc) from exc
    return UserPublic.of(user)


@router.post(
    "/verify/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a new verification link (same answer whether or not the email exists)",
)
async def resend(body: ResendRequest, c: ContainerDep) -> dict[str, str]:
    try:
        await handlers.resend_verification(
            body.email, uow=c.uow, clock=c.clock, settings=c.settings
        )
    except errors.AuthError as exc:
        raise problem(exc) from exc
    return {"status": "accepted"}


@router.post("/login", response_model=TokenPair, summary="Exchange email and password for tokens")
async def login(
    body: LoginRequest, request: Request, response: Response, c: ContainerDep
) -> TokenPair:
    client = handlers.Client(
        address=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent"),
    )
    try:
        pair = await handlers.login(
            body.email,
            body.password,
            client,
            uow=c.uow,
            hasher=c.hasher,
            keys=c.keys,
            clock=c.clock,
            settings=c.settings,
        )
    except errors.AuthError as exc:
        raise problem(exc) from exc
    _no_store(response)
    return pair


@router.post("/refresh", response_model=TokenPair, summary="Rotate a refresh token")
async def refresh(body: RefreshRequest, response: Response, c: ContainerDep) -> TokenPair:
    try:
        pair = await handlers.refresh_session(
            body.refresh_token, uow=c.uow, keys=c.keys, clock=c.clock, settings=c.settings
        )
    except errors.AuthError as exc:
        raise problem(exc) from exc
    _no_store(response)
    return pair


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the session (bearer token, or a refresh token in the body)",
)
async def logout(
    c: ContainerDep,
    body: LogoutRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    session_id = None
    if authorization:
        session_id = authenticate(c, authorization).session_id
    refresh_token = body.refresh_token if body else None
    if session_id is None and refresh_token is None:
        raise Problem(
            401, "unauthenticated", "Send an access token or a refresh token.", headers=_BEARER
        )
    try:
        await handlers.logout(
            session_id=session_id, refresh_token=refresh_token, uow=c.uow, clock=c.clock
        )
    except errors.AuthError as exc:
        raise problem(exc) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPublic, summary="The caller's account")
async def me(caller: CallerDep, c: ContainerDep) -> UserPublic:
    try:
        user = await handlers.current_user(
            caller.user_id, caller.session_id, uow=c.uow, clock=c.clock
        )
    except errors.AuthError as exc:
        raise problem(exc) from exc
    return UserPublic.of(user)


@wellknown.get("/.well-known/jwks.json", summary="The public keys that verify access tokens")
async def jwks(response: Response, c: ContainerDep) -> dict[str, Any]:
    # Short enough that a rotation reaches verifiers well within a token's lifetime.
    response.headers["Cache-Control"] = "public, max-age=300"
    return c.keys.jwks()


def include_routes(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(wellknown)
