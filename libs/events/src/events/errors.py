"""The bus's error vocabulary; the consumer's retry decisions are made on these classes."""

from __future__ import annotations


class EventsError(Exception):
    """Base of every error raised by the events library."""


class ContractViolation(EventsError):
    """A payload that breaks its contract: never retried, it goes straight to the DLQ."""


class PermanentError(EventsError):
    """A handler's way to say retrying cannot help (a hard bounce, a deleted aggregate)."""


class PublishError(EventsError):
    """The broker did not confirm a publish: the caller must keep the event and try again."""


class Unroutable(PublishError):
    """No queue is bound to the event's type, so the broker returned it (mandatory publish)."""


def is_retryable(exc: BaseException) -> bool:
    """Whether a redelivery could succeed where this attempt failed."""
    return not isinstance(exc, ContractViolation | PermanentError)
