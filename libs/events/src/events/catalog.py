"""The catalog: every event type, who produces it, and every subscription that consumes it.

It is the single source of truth for the topology (each subscription is a queue) and for the
AsyncAPI document; the contract tests check it is complete and consistent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from events import retry
from events.contracts import (
    EmailBouncedV1,
    EmailFailedV1,
    EmailSentV1,
    EmailSuppressionLiftedV1,
    MediaFailedV1,
    MediaProcessedV1,
    MediaUploadedV1,
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioItemAddedV1,
    PortfolioItemRemovedV1,
    PortfolioItemUpdatedV1,
    PortfolioPurgedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
    SearchIndexedV1,
    UserLoggedInV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserSignupAttemptedV1,
    UserVerificationRequestedV1,
    UserVerifiedV1,
)
from events.envelope import EventData
from events.errors import ContractViolation


@dataclass(frozen=True)
class EventSpec:
    """One event type: its payload model (which names its only producer) and what it means."""

    model: type[EventData]
    summary: str
    optional: bool = False
    """Declared but not yet published: publishing needs a bound consumer (mandatory routing)."""

    @property
    def type(self) -> str:
        return self.model.event_type

    @property
    def producer(self) -> str:
        return self.model.producer


@dataclass(frozen=True)
class Subscription:
    """One handler of one service: a durable queue bound to the types it consumes."""

    service: str
    handler: str
    consumes: tuple[type[EventData], ...]
    summary: str
    retry: retry.RetryPolicy = field(default=retry.DEFAULT)

    @property
    def queue(self) -> str:
        return f"{self.service}.{self.handler}"

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(model.event_type for model in self.consumes)

    def model_for(self, event_type: str) -> type[EventData]:
        for model in self.consumes:
            if model.event_type == event_type:
                return model
        raise ContractViolation(f"queue {self.queue} does not consume {event_type!r}")


class Catalog:
    """Lookups over the event specs and subscriptions."""

    def __init__(self, events: Iterable[EventSpec], subscriptions: Iterable[Subscription]) -> None:
        self.events: dict[str, EventSpec] = {}
        for spec in events:
            if spec.type in self.events:
                raise ValueError(f"event type {spec.type} declared twice")
            self.events[spec.type] = spec
        self.subscriptions: tuple[Subscription, ...] = tuple(subscriptions)
        queues = [s.queue for s in self.subscriptions]
        if len(set(queues)) != len(queues):
            raise ValueError("two subscriptions share a queue name")

    def event(self, event_type: str) -> EventSpec:
        try:
            return self.events[event_type]
        except KeyError:
            raise ContractViolation(f"unknown event type {event_type!r}") from None

    def subscription(self, queue: str) -> Subscription:
        for sub in self.subscriptions:
            if sub.queue == queue:
                return sub
        raise KeyError(f"no subscription named {queue!r} in the catalog")

    def consumers_of(self, event_type: str) -> list[Subscription]:
        return [s for s in self.subscriptions if event_type in s.types]

    def subscriptions_of(self, service: str) -> list[Subscription]:
        return [s for s in self.subscriptions if s.service == service]

    def produced_by(self, service: str) -> list[EventSpec]:
        return [e for e in self.events.values() if e.producer == service]

    def services(self) -> list[str]:
        names = {e.producer for e in self.events.values()} | {s.service for s in self.subscriptions}
        return sorted(names)

    def with_subscriptions(self, subscriptions: Iterable[Subscription]) -> Catalog:
        """The same event types with other subscriptions: tests bind uuid-named queues this way."""
        return Catalog(self.events.values(), subscriptions)


EVENTS = [
    EventSpec(UserRegisteredV1, "A person registered; the account is pending."),
    EventSpec(UserVerificationRequestedV1, "A verification email is due (carries the token)."),
    EventSpec(UserVerifiedV1, "The email address was verified; the account is active."),
    EventSpec(UserLoggedInV1, "A successful login, flagged on the first one."),
    EventSpec(UserSignupAttemptedV1, "Someone tried to register an address that has an account."),
    EventSpec(UserPasswordResetRequestedV1, "A password reset email is due (carries the token)."),
    EventSpec(PortfolioCreatedV1, "A portfolio was created."),
    EventSpec(PortfolioUpdatedV1, "A portfolio changed (full new state)."),
    EventSpec(PortfolioDeletedV1, "A portfolio was deleted (soft, restorable)."),
    EventSpec(PortfolioRestoredV1, "A deleted portfolio was restored (full state)."),
    EventSpec(PortfolioPurgedV1, "A deleted portfolio was removed for good."),
    EventSpec(PortfolioItemAddedV1, "An item was added to a portfolio."),
    EventSpec(PortfolioItemUpdatedV1, "An item changed (full new state)."),
    EventSpec(PortfolioItemRemovedV1, "An item was removed from a portfolio."),
    EventSpec(MediaUploadedV1, "An original upload is stored and awaits processing."),
    EventSpec(MediaProcessedV1, "The variants of an upload are stored."),
    EventSpec(MediaFailedV1, "An upload could not be processed."),
    EventSpec(EmailSentV1, "The provider accepted an email."),
    EventSpec(EmailFailedV1, "An email will not be delivered."),
    EventSpec(EmailBouncedV1, "An address bounced or complained and is suppressed."),
    EventSpec(EmailSuppressionLiftedV1, "An operator lifted an address's suppression."),
    EventSpec(SearchIndexedV1, "A document reached the index.", optional=True),
]

PORTFOLIO_EVENTS: tuple[type[EventData], ...] = (
    PortfolioCreatedV1,
    PortfolioUpdatedV1,
    PortfolioDeletedV1,
    PortfolioRestoredV1,
    PortfolioPurgedV1,
    PortfolioItemAddedV1,
    PortfolioItemUpdatedV1,
    PortfolioItemRemovedV1,
)

SUBSCRIPTIONS = [
    Subscription(
        "auth",
        "email_status",
        (EmailSentV1, EmailFailedV1, EmailBouncedV1, EmailSuppressionLiftedV1),
        "Keep each account's email deliverability (sent, failed, bounced, lifted) up to date.",
    ),
    Subscription(
        "notify",
        "welcome_email",
        (UserRegisteredV1,),
        "Send the welcome email.",
        retry.EMAIL,
    ),
    Subscription(
        "notify",
        "verification_email",
        (UserVerificationRequestedV1,),
        "Send the email with the verification link.",
        retry.EMAIL,
    ),
    Subscription(
        "notify",
        "onboarding_email",
        (UserLoggedInV1,),
        "Send the getting-started email after an account's first login.",
        retry.EMAIL,
    ),
    Subscription(
        "notify",
        "signup_attempt_email",
        (UserSignupAttemptedV1,),
        "Tell an address's owner that someone tried to register it again.",
        retry.EMAIL,
    ),
    Subscription(
        "notify",
        "password_reset_email",
        (UserPasswordResetRequestedV1,),
        "Send the email with the password reset link.",
        retry.EMAIL,
    ),
    Subscription(
        "portfolio",
        "owners",
        (UserRegisteredV1, UserVerifiedV1),
        "Keep the projection of people who may own portfolios (verified users create them).",
    ),
    Subscription(
        "portfolio",
        "media_status",
        (MediaProcessedV1, MediaFailedV1),
        "Attach processed media to their items, or mark them failed (newest report wins).",
    ),
    Subscription(
        "portfolio",
        "cache",
        PORTFOLIO_EVENTS,
        "Clear the public-page cache of every committed change (after the request's own clear).",
    ),
    Subscription(
        "media",
        "process_upload",
        (MediaUploadedV1,),
        "Resize an upload into its variants and store them.",
        retry.MEDIA,
    ),
    Subscription(
        "media",
        "portfolio_access",
        (
            PortfolioCreatedV1,
            PortfolioUpdatedV1,
            PortfolioDeletedV1,
            PortfolioRestoredV1,
            PortfolioItemAddedV1,
            PortfolioItemRemovedV1,
        ),
        "Know who may upload to and read each item's media (owners, collaborators, visibility).",
    ),
    Subscription(
        "media",
        "purge",
        (PortfolioPurgedV1, PortfolioItemRemovedV1),
        "Delete the objects of purged portfolios and removed items after the retention window.",
        retry.MEDIA,
    ),
    Subscription(
        "search",
        "index_portfolio",
        PORTFOLIO_EVENTS,
        "Keep the search index in step with public portfolios and their items.",
    ),
    Subscription(
        "search",
        "index_media",
        (MediaProcessedV1,),
        "Add thumbnails of processed media to indexed items.",
    ),
    Subscription(
        "search",
        "owners",
        (UserRegisteredV1,),
        "Know each owner's display name for the documents.",
    ),
]

CATALOG = Catalog(EVENTS, SUBSCRIPTIONS)
