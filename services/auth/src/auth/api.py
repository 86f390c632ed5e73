"""Auth's HTTP routes: parse, call a bound use case; domain errors answer for themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status

from auth import errors
from auth.deps import (
    CallerDep,
    ClientDep,
    ContainerDep,
    CurrentUser,
    Login,
    Logout,
    RefreshSession,
    RegisterUser,
    ResendVerification,
    VerifyEmail,
    caller_of,
)
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
from servicekit.problems import responses

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
    responses=responses(
        errors.InvalidEmail, errors.InvalidDisplayName, errors.WeakPassword, errors.EmailTaken
    ),
)
async def register(body: UserCreate, register_user: RegisterUser) -> Registered:
    user = await register_user(body)
    return Registered(id=user.id, status=user.status)


@router.post(
    "/verify",
    response_model=UserPublic,
    summary="Verify an email with the token",
    responses=responses(
        errors.VerificationTokenUnknown,
        errors.VerificationTokenExpired,
        errors.VerificationTokenUsed,
    ),
)
async def verify(body: VerifyRequest, verify_email: VerifyEmail) -> UserPublic:
    return UserPublic.of(await verify_email(body.token))


@router.post(
    "/verify/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a new verification link (same answer whether or not the email exists)",
)
async def resend(body: ResendRequest, resend_verification: ResendVerification) -> dict[str, str]:
    await resend_verification(body.email)
    return {"status": "accepted"}


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Exchange email and password for tokens",
    responses=responses(
        errors.InvalidCredentials, errors.AccountPending, errors.AccountDisabled, errors.Throttled
    ),
)
async def login(
    body: LoginRequest, client: ClientDep, response: Response, login: Login
) -> TokenPair:
    pair = await login(body.email, body.password, client)
    _no_store(response)
    return pair


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate a refresh token",
    responses=responses(
        errors.RefreshTokenInvalid, errors.RefreshTokenReused, errors.SessionRevoked
    ),
)
async def refresh(
    body: RefreshRequest, response: Response, refresh_session: RefreshSession
) -> TokenPair:
    pair = await refresh_session(body.refresh_token)
    _no_store(response)
    return pair


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the session (bearer token, or a refresh token in the body)",
    responses=responses(errors.RefreshTokenInvalid, errors.AccessTokenInvalid),
)
async def logout(
    c: ContainerDep,
    logout: Logout,
    body: LogoutRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    session_id = caller_of(c, authorization).session_id if authorization else None
    refresh_token = body.refresh_token if body else None
    if session_id is None and refresh_token is None:
        raise errors.LogoutWithoutCredentials()
    await logout(session_id, refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=UserPublic,
    summary="The caller's account",
    responses=responses(errors.AccessTokenInvalid, errors.SessionRevoked),
)
async def me(caller: CallerDep, current_user: CurrentUser) -> UserPublic:
    return UserPublic.of(await current_user(caller.user_id, caller.session_id))


@wellknown.get("/.well-known/jwks.json", summary="The public keys that verify access tokens")
async def jwks(response: Response, c: ContainerDep) -> dict[str, Any]:
    # Short enough that a rotation reaches verifiers well within a token's lifetime.
    response.headers["Cache-Control"] = "public, max-age=300"
    return c.keys.jwks()
