"""SendGrid's signed event webhook: ECDSA P-256 over the timestamp followed by the raw body.

https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notify.errors import SignatureInvalid, SignatureMissing

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


__all__ = ["SignatureInvalid", "SignatureMissing", "load_public_key", "verify"]


def load_public_key(base64_der: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(base64.b64decode(base64_der))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the webhook verification key must be an ECDSA public key")
    return key


def verify(
    key: ec.EllipticCurvePublicKey,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance: timedelta,
) -> None:
    """Raise unless `body` was signed by the key's owner at `timestamp`, recently enough that a
    captured request cannot be replayed later."""
    if not signature or not timestamp:
        raise SignatureMissing("the request is not signed")
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), now.tzinfo)
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, OverflowError, binascii.Error) as exc:
        raise SignatureInvalid("the signature or timestamp is malformed") from exc
    if abs(now - signed_at) > tolerance:
        raise SignatureInvalid("the signature is too old or from the future")
    try:
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureInvalid("the signature does not match the body") from exc
