"""What can go wrong in portfolio's use cases; each error carries the problem it answers with."""

from __future__ import annotations

from servicekit.concurrency import PreconditionFailed, PreconditionRequired
from servicekit.errors import DomainError

__all__ = ["PreconditionFailed", "PreconditionRequired"]


class PortfolioNotFound(DomainError):
    """Also what someone gets who may not see the portfolio: its existence is not leaked."""

    status, slug, title = 404, "portfolio-not-found", "Not found"
    detail = "There is no such portfolio, or you may not see it."


class ItemNotFound(DomainError):
    status, slug, title = 404, "item-not-found", "Not found"
    detail = "This portfolio has no such item."


class NotAllowed(DomainError):
    status, slug, title = 403, "not-allowed", "Forbidden"
    detail = "You may see this portfolio but not do this."


class OwnerNotVerified(DomainError):
    status, slug, title = 403, "owner-not-verified", "Forbidden"
    detail = "Verify your email address before you create a portfolio."


class SlugTaken(DomainError):
    status, slug, title = 409, "slug-taken", "Conflict"
    detail = "You already have a portfolio at this address; choose another slug."


class TooManyItems(DomainError):
    status, slug, title = 422, "too-many-items", "Unprocessable content"
    detail = "This portfolio is full."


class InvalidOrder(DomainError):
    status, slug, title = 422, "invalid-order", "Unprocessable content"
    detail = "List every item of the portfolio exactly once."


class NotDeleted(DomainError):
    status, slug, title = 409, "not-deleted", "Conflict"
    detail = "This portfolio is not deleted."


class RetentionOver(DomainError):
    status, slug, title = 410, "retention-over", "Gone"
    detail = "This portfolio was deleted too long ago to be restored."


class UnknownUser(DomainError):
    status, slug, title = 422, "unknown-user", "Unprocessable content"
    detail = "There is no such user to share this portfolio with."


class OwnerIsNotACollaborator(DomainError):
    status, slug, title = 422, "owner-not-collaborator", "Unprocessable content"
    detail = "The owner already has every right on the portfolio."


class CollaboratorNotFound(DomainError):
    status, slug, title = 404, "collaborator-not-found", "Not found"
    detail = "This person is not a collaborator of the portfolio."
