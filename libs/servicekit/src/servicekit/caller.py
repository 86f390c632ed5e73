"""The caller of a request: a principal whose access token auth signed, verified locally.

Every service but auth verifies tokens against auth's JWKS (cached; see `tokens.py`); the
settings that say where the keys are and what a token must claim live here, once.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from servicekit.tokens import Claims, InvalidToken, JwksVerifier, TokenInvalid, bearer_token

__all__ = ["CallerDep", "Claims", "OptionalCallerDep", "TokenSettings", "verifier_for"]


class TokenSettings(BaseModel):
    """Where auth publishes its keys and what its tokens claim (env `<NAME>_TOKENS__...`)."""

    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    issuer: str = "portfolio-auth"
    audience: str = "portfolio"


def verifier_for(settings: TokenSettings) -> JwksVerifier:
    return JwksVerifier(settings.jwks_url, issuer=settings.issuer, audience=settings.audience)


class _HasVerifier(Protocol):
    verifier: JwksVerifier


def _verifier(request: Request) -> JwksVerifier:
    container: _HasVerifier = request.app.state.container
    return container.verifier


async def _verify(request: Request, token: str) -> Claims:
    try:
        return await _verifier(request).verify(token)
    except TokenInvalid as exc:
        raise InvalidToken(str(exc)) from exc


async def current_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Claims:
    """The verified claims of the bearer token, or a 401 problem."""
    return await _verify(request, bearer_token(authorization))


async def optional_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Claims | None:
    """Anonymous when no token is sent; a token that is sent must be valid (401 otherwise)."""
    if not authorization:
        return None
    return await _verify(request, bearer_token(authorization))


CallerDep = Annotated[Claims, Depends(current_caller)]
OptionalCallerDep = Annotated[Claims | None, Depends(optional_caller)]
