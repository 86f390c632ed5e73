"""What notify's use cases share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from notify.unit_of_work import NotifyUnitOfWork

UowFactory = Callable[[], NotifyUnitOfWork]
FailReason = Literal["permanent", "retries_exhausted", "suppressed"]
BounceKind = Literal["bounce", "spamreport", "dsn"]


class EmailInProgress(Exception):
    """The email's lease is held: another delivery is sending it, or the provider asked us to
    wait (Retry-After). Raised to go round the retry path; the work will be done."""


def address_key(address: str) -> str:
    return address.strip().lower()
