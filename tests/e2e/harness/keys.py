"""Secrets an e2e run makes for itself: never committed, never reused between runs."""

from __future__ import annotations

import base64
import json
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def signing_keys() -> str:
    """AUTH_SIGNING_KEYS: one fresh Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps([{"kid": f"e2e-{uuid.uuid4().hex[:8]}", "private_key_pem": pem}])


class WebhookKey:
    """The ECDSA key pair of a simulated SendGrid signed event webhook."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_b64(self) -> str:
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, timestamp: str, body: bytes) -> str:
        from cryptography.hazmat.primitives import hashes

        signature = self.private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()
