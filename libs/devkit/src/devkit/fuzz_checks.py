"""Checks schemathesis runs beside its own in `just fuzz` (loaded as its hooks module)."""

from __future__ import annotations

from typing import Any

import schemathesis

PROBLEM = "application/problem+json"
NOT_PROBLEMS = ("/readyz",)
"""Readiness answers 503 with its checks, as probes expect; it documents that body."""


@schemathesis.check
def errors_are_problems(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx is an RFC 9457 problem: one shape for every refusal."""
    if response.status_code < 400 or case.path in NOT_PROBLEMS:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith(PROBLEM):
        raise AssertionError(
            f"{response.status_code} answered as {content_type or 'no content type'}, not {PROBLEM}"
        )
    body = response.json()
    missing = [k for k in ("type", "title", "status", "detail") if k not in body]
    if missing or body["status"] != response.status_code:
        raise AssertionError(f"not a whole problem: missing {missing}, status {body.get('status')}")
    return None
