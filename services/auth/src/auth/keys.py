"""Ed25519 signing keys, the JWKS, and access tokens (EdDSA JWTs with a `kid`).

Rotation: prepend a new key to AUTH_SIGNING_KEYS and deploy; it signs from then on while the old
keys stay in the JWKS. Remove an old key once the access tokens it signed have expired (15 min).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.config import SigningKeyConfig

ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.OKPAlgorithm.to_jwk(
            self.private.public_key(), as_dict=True
        )
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def generate(kid: str | None = None) -> SigningKey:
    return SigningKey(kid or f"k-{uuid.uuid4().hex[:12]}", Ed25519PrivateKey.generate())


def to_config(key: SigningKey) -> dict[str, str]:
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"kid": key.kid, "private_key_pem": pem}


def load(config: SigningKeyConfig) -> SigningKey:
    private = serialization.load_pem_private_key(
        config.private_key_pem.get_secret_value().encode(), password=None
    )
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"signing key {config.kid} is not an Ed25519 key")
    return SigningKey(config.kid, private)


class KeyRing:
    """The active key signs; every key verifies and is published."""

    def __init__(self, keys: list[SigningKey], *, issuer: str, audience: str) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        if len({k.kid for k in keys}) != len(keys):
            raise ValueError("signing key ids must be unique")
        self._keys = keys
        self._by_kid = {k.kid: k for k in keys}
        self.issuer = issuer
        self.audience = audience

    @property
    def active(self) -> SigningKey:
        return self._keys[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self._keys]}

    def issue(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, ttl: timedelta
    ) -> str:
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            payload, self.active.private, algorithm=ALGORITHM, headers={"kid": self.active.kid}
        )

    def decode(self, token: str, *, now: datetime) -> dict[str, Any]:
        """Verify a token this service issued (auth's own routes; others use the JWKS)."""
        header = jwt.get_unverified_header(token)
        key = self._by_kid.get(header.get("kid", ""))
        if key is None or header.get("alg") != ALGORITHM:
            raise jwt.InvalidTokenError("unknown signing key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private.public_key(),
            algorithms=[ALGORITHM],
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub", "sid"], "verify_exp": False},
        )
        if claims["exp"] <= now.timestamp():  # our clock, so tests can move it
            raise jwt.ExpiredSignatureError("the token has expired")
        return claims
