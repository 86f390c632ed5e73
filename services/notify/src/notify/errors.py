"""What notify's HTTP side refuses; each error carries the problem it answers with."""

from __future__ import annotations

from servicekit.errors import DomainError


class WebhookNotConfigured(DomainError):
    status, slug, title = 503, "webhook-not-configured", "Service unavailable"
    detail = "NOTIFY_WEBHOOK_PUBLIC_KEY is not set: signed events cannot be checked."


class SignatureMissing(DomainError):
    status, slug, title = 401, "signature-missing", "Unauthorized"
    detail = "the request is not signed"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Signature"}


class SignatureInvalid(DomainError):
    status, slug, title = 403, "signature-invalid", "Forbidden"
    detail = "the signature does not match the body"


class InvalidJson(DomainError):
    status, slug, title = 400, "invalid-json", "Bad request"
    detail = "The body is not JSON."


class InvalidEvents(DomainError):
    status, slug, title = 422, "invalid-events", "Unprocessable content"
    detail = "The body must be a JSON array of event objects."


class NotSuppressed(DomainError):
    status, slug, title = 404, "not-suppressed", "Not found"
    detail = "This address is not on the suppression list."


class OperatorUnauthenticated(DomainError):
    status, slug, title = 401, "operator-unauthenticated", "Unauthorized"
    detail = "Send the operators' token: Authorization: Bearer <NOTIFY_ADMIN_TOKEN>."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="notify-admin"'}
