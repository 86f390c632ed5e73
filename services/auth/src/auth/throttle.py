"""Failed-login throttling: sliding windows per (account, client network) and per network,
and an account-wide brake that slows guesses instead of locking the owner out.

Client networks are IPv4 addresses and IPv6 /64s (networks.py). A guesser from one network is
refused on the account it guesses at after a few failures, whoever else is guessing; guesses
from many networks together space the account's attempts `login_account_delay` apart, so a
botnet gets one guess per delay and the owner waits at most that long. There is no hard block
of an account as such: five wrong passwords from anywhere no longer lock its owner out.

The state is the login_attempts table (shared by every replica). A login first takes a
transaction-scoped advisory lock on its account and network, decides from the recent attempts,
and records itself as `in_progress` (counted as a failure) before it checks the password. So N
concurrent guesses cannot all slip under the limit, and a process that dies mid-check errs on
the side of the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth.models import BAD_CREDENTIALS, IN_PROGRESS, SUCCESS

FAILURES = (BAD_CREDENTIALS, IN_PROGRESS)
"""Outcomes that count against a limit. A right password on a pending account is no guess, and
a throttled attempt is not counted either, or a patient attacker would keep a victim locked out
for as long as they keep knocking."""


@dataclass(frozen=True)
class Limit:
    max_failures: int
    window: timedelta


def wait_time(
    recent: Sequence[tuple[str, datetime]], limit: Limit, now: datetime
) -> timedelta | None:
    """How long until one more attempt is allowed, or None if it is allowed now.

    `recent` are (outcome, at) pairs inside the window, newest first, at least `max_failures` of
    them when there are that many. The count restarts after a success (the owner got in), so only
    the failures before the first success in that list count. The window reopens when the
    `max_failures`-th newest failure leaves it.
    """
    failures: list[datetime] = []
    for outcome, at in recent:
        if outcome == SUCCESS:
            break
        if outcome in FAILURES:
            failures.append(at)
    if len(failures) < limit.max_failures:
        return None
    return max(timedelta(seconds=1), failures[limit.max_failures - 1] + limit.window - now)


def window_wait(recent: Sequence[datetime], limit: Limit, now: datetime) -> timedelta | None:
    """The same sliding window over plain times (newest first): for request limits, where
    every admitted request counts."""
    if len(recent) < limit.max_failures:
        return None
    return max(timedelta(seconds=1), recent[limit.max_failures - 1] + limit.window - now)


def spacing_wait(
    recent: Sequence[tuple[str, datetime]], slow_after: Limit, delay: timedelta, now: datetime
) -> timedelta | None:
    """The account-wide brake: once an account has had `slow_after.max_failures` failures from
    anywhere inside the window, its attempts are spaced `delay` apart instead of refused.

    The owner therefore never waits longer than `delay`, however many networks guess at the
    account, while those guesses slow to one per `delay`.
    """
    if wait_time(recent, slow_after, now) is None:
        return None
    newest = next((at for outcome, at in recent if outcome in FAILURES), None)
    if newest is None:
        return None
    wait = newest + delay - now
    return wait if wait > timedelta(0) else None
