"""Auth's HTTP routes: parse, call a bound use case; domain errors answer for themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status

from auth import errors
from auth.deps import (
    CallerDep,
    ClientDep,
    ContainerDep,
    CurrentUser,
    Login,
    Logout,
    LogoutEverywhere,
    RefreshSession,
    RegisterUser,
    RequestPasswordReset,
    ResendVerification,
    ResetPassword,
    VerifyEmail,
    caller_of,
)
from auth.models import (
    Accepted,
    ForgotRequest,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    ResendRequest,
    ResetRequest,
    TokenPair,
    UserCreate,
    UserPublic,
    VerifyRequest,
)
from servicekit.hardening import no_store
from servicekit.problems import responses

router = APIRouter(prefix="/auth", tags=["auth"])
wellknown = APIRouter(tags=["keys"])

REGISTERED = Accepted(
    detail="If this address can be registered, we have sent it an email: follow the link in it."
)
RESENT = Accepted(
    detail="If this address has an account waiting for verification, a new link is on its way."
)
RESET_SENT = Accepted(
    detail="If this address has an account, we have sent it a link to choose a new password."
)


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Register (the same answer for new and known addresses; the email says which)",
    responses=responses(
        errors.InvalidEmail, errors.InvalidDisplayName, errors.WeakPassword, errors.RateLimited
    ),
)
async def register(body: UserCreate, client: ClientDep, register_user: RegisterUser) -> Accepted:
    await register_user(body, client)
    return REGISTERED


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
    response_model=Accepted,
    summary="Send a new verification link (same answer whether or not the email exists)",
    responses=responses(errors.InvalidEmail),
)
async def resend(body: ResendRequest, resend_verification: ResendVerification) -> Accepted:
    await resend_verification(body.email)
    return RESENT


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Mail a single-use link to choose a new password (same answer for every address)",
    responses=responses(errors.InvalidEmail, errors.RateLimited),
)
async def forgot_password(
    body: ForgotRequest, client: ClientDep, request_password_reset: RequestPasswordReset
) -> Accepted:
    await request_password_reset(body.email, client)
    return RESET_SENT


@router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Choose a new password with the emailed token; every session ends",
    responses=responses(errors.ResetTokenUnknown, errors.ResetTokenExpired, errors.WeakPassword),
)
async def reset_password(body: ResetRequest, reset: ResetPassword) -> Response:
    await reset(body.token, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Exchange email and password for tokens",
    dependencies=[Depends(no_store)],
    responses=responses(
        errors.InvalidCredentials, errors.AccountPending, errors.AccountDisabled, errors.Throttled
    ),
)
async def login(body: LoginRequest, client: ClientDep, login: Login) -> TokenPair:
    return await login(body.email, body.password, client)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate a refresh token",
    dependencies=[Depends(no_store)],
    responses=responses(
        errors.RefreshTokenInvalid, errors.RefreshTokenReused, errors.SessionRevoked
    ),
)
async def refresh(body: RefreshRequest, refresh_session: RefreshSession) -> TokenPair:
    return await refresh_session(body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the session (bearer token, or a refresh token in the body)",
    responses=responses(
        errors.RefreshTokenInvalid, errors.AccessTokenInvalid, errors.LogoutWithoutCredentials
    ),
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


@router.post(
    "/logout/all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End every session of the caller's account (log out everywhere)",
    responses=responses(errors.AccessTokenInvalid, errors.SessionRevoked),
)
async def logout_all(caller: CallerDep, logout_everywhere: LogoutEverywhere) -> Response:
    await logout_everywhere(caller.user_id, caller.session_id)
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
