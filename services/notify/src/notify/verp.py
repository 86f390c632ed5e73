"""Per-message return paths (VERP): each email's envelope sender names that email, signed.

`bounces+<id>.<mac>@domain`: the id is the email's (base32, 26 characters), the mac the first 80
bits of HMAC-SHA256 over it with NOTIFY_BOUNCE_SECRET. A delivery report comes back to the
return path of the message it is about, so the listener knows which email it concerns before
reading it, and refuses at RCPT any address we never signed: a report cannot be forged for an
email without its return path, which only that email's receiving servers ever saw.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

MAC_BYTES = 10


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _mac(key: bytes, email_id: uuid.UUID) -> bytes:
    return hmac.new(key, b"verp:" + email_id.bytes, hashlib.sha256).digest()[:MAC_BYTES]


def return_path(bounce_address: str, email_id: uuid.UUID, key: bytes) -> str:
    local, _, domain = bounce_address.partition("@")
    return f"{local}+{_b32(email_id.bytes)}.{_b32(_mac(key, email_id))}@{domain}"


def email_of(address: str, bounce_address: str, key: bytes) -> uuid.UUID | None:
    """The email a return path names, or None unless it is one we signed.

    Local parts are compared without case: some relays lower-case them, and base32 survives it.
    """
    local, _, domain = address.strip().strip("<>").partition("@")
    base_local, _, base_domain = bounce_address.partition("@")
    tagged, plus, tag = local.partition("+")
    if not plus or tagged.lower() != base_local.lower() or domain.lower() != base_domain.lower():
        return None
    encoded_id, dot, encoded_mac = tag.partition(".")
    if not dot:
        return None
    try:
        email_id = uuid.UUID(bytes=_unb32(encoded_id))
        mac = _unb32(encoded_mac)
    except (binascii.Error, ValueError):
        return None
    return email_id if hmac.compare_digest(mac, _mac(key, email_id)) else None
