"""What never leaves a process in an error report: secrets and people's data, by field name.

Sentry's own scrubber matches a short list of exact names; ours matches parts of names
(`refresh_token`, `X-Api-Key`, `password_hash`) at any depth of the event (request body,
headers, cookies, query string, extra, contexts, breadcrumbs), and blanks email addresses
wherever they appear in text (an exception's message, a log line).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

SCRUBBED = "[Filtered]"

SECRET_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "dsn",
    "signature",
)
"""A field whose name contains one of these holds a secret."""

PERSONAL_NAMES = frozenset(
    {"email", "emails", "email_address", "recipient", "to", "from", "reply_to", "ip_address"}
)
"""A field with one of these names holds a person's data."""

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def _sensitive(name: str) -> bool:
    key = name.lower().replace("-", "_")
    return key in PERSONAL_NAMES or any(part in key for part in SECRET_PARTS)


def scrub(value: Any) -> Any:
    """`value` with sensitive fields replaced and email addresses blanked, at any depth."""
    if isinstance(value, dict):
        return {
            k: SCRUBBED if isinstance(k, str) and _sensitive(k) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        # Sentry sends headers as [name, value] pairs as well as a mapping.
        if len(value) == 2 and isinstance(value[0], str) and _sensitive(value[0]):
            return [value[0], SCRUBBED]
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return EMAIL.sub(SCRUBBED, value)
    return value


def scrub_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, SCRUBBED if _sensitive(k) else scrub(v)) for k, v in pairs])


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry's `before_send`: the whole event, scrubbed."""
    request = event.get("request")
    if isinstance(request, dict) and isinstance(request.get("query_string"), str):
        request["query_string"] = scrub_query(request["query_string"])
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {k: v for k, v in user.items() if k == "id"}
    scrubbed: dict[str, Any] = scrub(event)
    return scrubbed
