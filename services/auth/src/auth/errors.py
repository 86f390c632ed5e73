"""What can go wrong in auth's use cases; api.py maps each to problem details.

A message given to an error is shown to the user as the problem's detail: write it for them,
and never put a secret (or another person's data) in it.
"""

from __future__ import annotations

from datetime import timedelta


class AuthError(Exception):
    """Base of the domain errors."""


class InvalidEmail(AuthError):
    pass


class WeakPassword(AuthError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class EmailTaken(AuthError):
    pass


class VerificationTokenUnknown(AuthError):
    pass


class VerificationTokenExpired(AuthError):
    pass


class VerificationTokenUsed(AuthError):
    pass


class InvalidCredentials(AuthError):
    pass


class AccountPending(AuthError):
    pass


class AccountDisabled(AuthError):
    pass


class Throttled(AuthError):
    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


class RefreshTokenInvalid(AuthError):
    pass


class RefreshTokenReused(AuthError):
    """A rotated token came back: someone holds a copy; the whole session family is revoked."""


class SessionRevoked(AuthError):
    pass


class InvalidDisplayName(AuthError):
    pass
