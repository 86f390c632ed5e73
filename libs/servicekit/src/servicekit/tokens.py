"""Checking access tokens locally against the auth service's JWKS, with caching.

Every service but auth imports this: tokens are verified without a call to auth per request. The
key set is cached; a token signed with an unknown key id triggers one refresh (rate limited), which
is how a key rotation reaches verifiers before the old key's tokens expire.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from servicekit.errors import DomainError

ALGORITHM = "EdDSA"


class TokenInvalid(Exception):
    """The token is missing, malformed, expired, or not signed by a published key."""


@dataclass(frozen=True)
class Claims:
    """What a verified access token says about its bearer."""

    user_id: uuid.UUID
    session_id: str | None
    expires_at: int
    raw: dict[str, Any] = field(repr=False)


class JwksVerifier:
    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        cache_ttl_s: float = 300.0,
        min_refresh_interval_s: float = 5.0,
        leeway_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._ttl = cache_ttl_s
        self._min_refresh = min_refresh_interval_s
        self._leeway = leeway_s
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        # Failed fetches count too: while the JWKS is down, cached keys keep verifying and only
        # one request per interval pays for another try (not every request, behind the lock).
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._client.aclose()

    def _due(self, *, force: bool) -> bool:
        now = self._clock()
        if now - self._attempted_at < self._min_refresh:
            return False
        return force or now - self._fetched_at >= self._ttl

    async def _refresh(self, *, force: bool) -> None:
        if not self._due(force=force):  # the common case: no lock to wait for
            return
        async with self._lock:
            if not self._due(force=force):  # another request refreshed while we waited
                return
            self._attempted_at = self._clock()
            try:
                response = await self._client.get(self._url)
                response.raise_for_status()
                keys = _parse_keys(response.json()["keys"])
                if not keys:
                    raise ValueError("the key set holds no usable key")
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                if self._keys:  # keep verifying with the keys we have
                    return
                raise TokenInvalid(f"the signing keys are unavailable: {exc}") from exc
            self._keys = keys
            self._fetched_at = self._clock()

    async def _key(self, kid: str) -> jwt.PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        if not self._keys:
            raise TokenInvalid("the signing keys are unavailable; try again shortly")
        try:
            return self._keys[kid]
        except KeyError:
            raise TokenInvalid("the token is signed with an unknown key") from None

    async def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenInvalid("the token is malformed") from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise TokenInvalid("the token's algorithm or key id is not acceptable")
        key = await self._key(header["kid"])
        try:
            payload = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            user_id = uuid.UUID(payload["sub"])
        except jwt.ExpiredSignatureError as exc:
            raise TokenInvalid("the token has expired") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise TokenInvalid(f"the token is not valid: {exc}") from exc
        return Claims(user_id, payload.get("sid"), int(payload["exp"]), payload)


def _parse_keys(keys: Any) -> dict[str, jwt.PyJWK]:
    """The usable keys of a JWKS; a key of another type (or a malformed one) is skipped, so it
    cannot stop the Ed25519 keys beside it from verifying."""
    parsed: dict[str, jwt.PyJWK] = {}
    for key in keys if isinstance(keys, list) else []:
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            continue
        try:
            parsed[key["kid"]] = jwt.PyJWK(key, algorithm=ALGORITHM)
        except (jwt.PyJWKError, ValueError, KeyError, TypeError):
            continue
    return parsed


class Unauthenticated(DomainError):
    status, slug, title = 401, "unauthenticated", "Unauthorized"
    detail = "Send an access token: Authorization: Bearer <token>."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="portfolio"'}


class InvalidToken(DomainError):
    status, slug, title = 401, "invalid-token", "Unauthorized"
    detail = "The access token is not valid."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="portfolio", error="invalid_token"'}


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer` header, or a 401 problem saying how to send one."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()
