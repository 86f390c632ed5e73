"""What can go wrong in auth's use cases; each error carries the problem it answers with.

A message given to an error is shown to the user as the problem's detail: write it for them,
and never put a secret (or another person's data) in it.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from servicekit.errors import TYPE_BASE, DomainError, ProblemDetails

_INVALID_TOKEN = {"WWW-Authenticate": 'Bearer realm="portfolio", error="invalid_token"'}


class AuthError(DomainError):
    """Base of auth's domain errors."""


class InvalidEmail(AuthError):
    status, slug, title = 422, "invalid-email", "Unprocessable content"
    detail = "That is not an email address we can send to."


class InvalidDisplayName(AuthError):
    status, slug, title = 422, "invalid-display-name", "Unprocessable content"
    detail = "A display name is required."


class WeakPassword(AuthError):
    """The type names the rule that refused it (too-short, too-common, ...)."""

    status, slug, title = 422, "weak-password", "Choose another password"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code

    def problem(self) -> ProblemDetails:
        return ProblemDetails(self.status, TYPE_BASE + self.code, self.title, str(self))


class VerificationTokenUnknown(AuthError):
    status, slug, title = 404, "verification-token-unknown", "Not found"
    detail = "This verification link is not valid."


class VerificationTokenExpired(AuthError):
    status, slug, title = 410, "verification-token-expired", "Gone"
    detail = "This verification link has expired."


class VerificationTokenUsed(AuthError):
    status, slug, title = 409, "verification-token-used", "Conflict"
    detail = "This verification link was already used."


class InvalidCredentials(AuthError):
    status, slug, title = 401, "invalid-credentials", "Unauthorized"
    detail = "The email or password is wrong."


class AccountPending(AuthError):
    status, slug, title = 403, "email-not-verified", "Forbidden"
    detail = "Verify your email address first: follow the link we sent."


class AccountDisabled(AuthError):
    status, slug, title = 403, "account-disabled", "Forbidden"
    detail = "This account is disabled."


class Throttled(AuthError):
    status, slug, title = 429, "too-many-attempts", "Too many requests"

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        self.seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"Too many failed attempts; try again in {self.seconds} seconds.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.seconds)}

    def extensions(self) -> dict[str, Any]:
        return {"retry_after": self.seconds}


class Overloaded(AuthError):
    """More password hashes are queued than can finish within the latency budget: come back
    shortly rather than wait for a timeout. Nothing was recorded; the same request can be sent
    again as is."""

    status, slug, title = 503, "overloaded", "Service busy"

    def __init__(self, retry_after_s: int) -> None:
        self.seconds = retry_after_s
        super().__init__(f"Too many requests are being handled; try again in {self.seconds} s.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.seconds)}

    def extensions(self) -> dict[str, Any]:
        return {"retry_after": self.seconds}


class RateLimited(AuthError):
    """Too many requests of one kind from one network, or for one address: the same answer
    whether or not the address has an account."""

    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, retry_after: timedelta) -> None:
        self.seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"Too many requests; try again in {self.seconds} seconds.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.seconds)}

    def extensions(self) -> dict[str, Any]:
        return {"retry_after": self.seconds}


class ResetTokenUnknown(AuthError):
    status, slug, title = 404, "reset-token-unknown", "Not found"
    detail = "This password reset link is not valid; ask for a new one."


class ResetTokenExpired(AuthError):
    status, slug, title = 410, "reset-token-expired", "Gone"
    detail = "This password reset link has expired or was used; ask for a new one."


class _TokenProblem(AuthError):
    status, title = 401, "Unauthorized"

    def headers(self) -> dict[str, str]:
        return _INVALID_TOKEN


class RefreshTokenInvalid(_TokenProblem):
    slug, detail = "invalid-refresh-token", "Log in again."


class RefreshTokenReused(_TokenProblem):
    """A rotated token came back: someone holds a copy; the whole session family is revoked."""

    slug = "refresh-token-reused"
    detail = "This session was ended because its refresh token was used twice; log in again."


class SessionRevoked(_TokenProblem):
    slug, detail = "session-ended", "This session has ended; log in again."


class AccessTokenExpired(_TokenProblem):
    slug, detail = "invalid-token", "The access token has expired; refresh it."


class AccessTokenInvalid(_TokenProblem):
    slug, detail = "invalid-token", "The access token is not valid."


class LogoutWithoutCredentials(AuthError):
    status, slug, title = 401, "unauthenticated", "Unauthorized"
    detail = "Send an access token or a refresh token."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="portfolio"'}
