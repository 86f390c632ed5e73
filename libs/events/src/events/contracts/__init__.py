"""Every event payload of the platform, one module per producing service."""

from events.contracts.auth import (
    UserLoggedInV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserSignupAttemptedV1,
    UserVerificationRequestedV1,
    UserVerifiedV1,
)
from events.contracts.media import MediaFailedV1, MediaProcessedV1, MediaUploadedV1, MediaVariant
from events.contracts.notify import (
    EmailBouncedV1,
    EmailFailedV1,
    EmailSentV1,
    EmailSuppressionLiftedV1,
)
from events.contracts.portfolio import (
    Collaborator,
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioItemAddedV1,
    PortfolioItemRemovedV1,
    PortfolioItemUpdatedV1,
    PortfolioPurgedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
    Visibility,
)
from events.contracts.search import SearchIndexedV1

__all__ = [
    "Collaborator",
    "EmailBouncedV1",
    "EmailFailedV1",
    "EmailSentV1",
    "EmailSuppressionLiftedV1",
    "MediaFailedV1",
    "MediaProcessedV1",
    "MediaUploadedV1",
    "MediaVariant",
    "PortfolioCreatedV1",
    "PortfolioDeletedV1",
    "PortfolioItemAddedV1",
    "PortfolioItemRemovedV1",
    "PortfolioItemUpdatedV1",
    "PortfolioPurgedV1",
    "PortfolioRestoredV1",
    "PortfolioUpdatedV1",
    "SearchIndexedV1",
    "UserLoggedInV1",
    "UserPasswordResetRequestedV1",
    "UserRegisteredV1",
    "UserSignupAttemptedV1",
    "UserVerificationRequestedV1",
    "UserVerifiedV1",
    "Visibility",
]
