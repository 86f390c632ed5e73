"""The throttles' memory: login attempts and requests that send mail, with the advisory locks
that serialise each decision (see throttle.py and handlers/common.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Subquery, literal, text, union_all, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import LoginAttempt, RequestEvent


@dataclass(frozen=True)
class AttemptWindow:
    """Which login attempts a throttle counts: the newest `count` with one of `outcomes`."""

    outcomes: Sequence[str]
    count: int
    email_key: str | None = None
    network: str | None = None


@dataclass(frozen=True)
class RequestWindow:
    """Which admitted requests a limit counts: the newest `count` of one network or target."""

    count: int
    network: str | None = None
    target_key: str | None = None


async def _lock_in_order(db: AsyncSession, *locks: tuple[int, str]) -> None:
    """Take transaction-scoped advisory locks in the order given, in one statement (PostgreSQL
    evaluates a select list left to right)."""
    calls = ", ".join(f"pg_advisory_xact_lock(:n{i}, hashtext(:k{i}))" for i in range(len(locks)))
    params: dict[str, object] = {}
    for i, (namespace, key) in enumerate(locks):
        params |= {f"n{i}": namespace, f"k{i}": key}
    connection = await db.connection()  # the unit of work's transaction
    await connection.execute(text(f"SELECT {calls}"), params)


class _Limited(Protocol):
    """A select with its own order and limit (sqlmodel's and SQLAlchemy's alike)."""

    def subquery(self) -> Subquery: ...


async def _newest_of_each(
    db: AsyncSession, queries: Mapping[str, _Limited]
) -> dict[str, list[Any]]:
    """Run several limited queries as one UNION ALL, each row tagged with its query's name.

    Each query keeps its own ORDER BY and LIMIT (as a subquery); the union's order is not
    defined, so callers sort. One round trip instead of one per query, taken after the locks,
    so every query sees the same committed state."""
    tagged = []
    for name, query in queries.items():
        sub = query.subquery()
        tagged.append(sa_select(literal(name).label("window"), *sub.c))
    found: dict[str, list[Any]] = {name: [] for name in queries}
    connection = await db.connection()
    for window, *values in (await connection.execute(union_all(*tagged))).all():
        found[window].append(tuple(values))
    return found


def _newest(row: tuple[str, datetime, int]) -> tuple[datetime, int]:
    return row[1], row[2]


class LoginAttempts:
    # Namespaces of the two-key advisory locks, so an account and an address never collide.
    _ACCOUNT_LOCK, _ADDRESS_LOCK = 1, 2

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def lock(self, email_key: str, network: str) -> None:
        """Serialise throttle decisions per account and per client network until the
        transaction ends.

        Every login takes the account lock before the network lock, so two logins never wait on
        each other in a cycle. A hash collision only serialises two unrelated keys, briefly.
        """
        await _lock_in_order(
            self.db, (self._ACCOUNT_LOCK, email_key), (self._ADDRESS_LOCK, network)
        )

    async def recent(
        self, since: datetime, windows: dict[str, AttemptWindow]
    ) -> dict[str, list[tuple[str, datetime]]]:
        """For each window, its newest attempts after `since`, newest first: one statement for
        all of them (a login reads three windows)."""
        queries = {}
        for name, window in windows.items():
            query = (
                select(LoginAttempt.outcome, LoginAttempt.at, LoginAttempt.id)
                .where(LoginAttempt.at > since, col(LoginAttempt.outcome).in_(window.outcomes))
                .order_by(col(LoginAttempt.at).desc(), col(LoginAttempt.id).desc())
                .limit(window.count)
            )
            if window.email_key is not None:
                query = query.where(LoginAttempt.email_key == window.email_key)
            if window.network is not None:
                query = query.where(LoginAttempt.client_network == window.network)
            queries[name] = query
        rows = await _newest_of_each(self.db, queries)
        return {
            name: [(outcome, at) for outcome, at, _ in sorted(found, key=_newest, reverse=True)]
            for name, found in rows.items()
        }

    async def add(self, attempt: LoginAttempt) -> LoginAttempt:
        self.db.add(attempt)
        await self.db.flush()  # the id, to settle the attempt later
        return attempt

    async def settle(
        self, attempt_id: int, outcome: str, *, user_id: uuid.UUID | None, first_login: bool = False
    ) -> None:
        """Record how an attempt that was `in_progress` ended."""
        await self.db.exec(
            update(LoginAttempt)
            .where(col(LoginAttempt.id) == attempt_id)
            .values(outcome=outcome, user_id=user_id, first_login=first_login)
        )


class RequestEvents:
    """The memory of the limits on requests that send mail (registration, password reset)."""

    _TARGET_LOCK, _NETWORK_LOCK = 3, 4

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def lock(self, action: str, target_key: str, network: str) -> None:
        """Serialise decisions per target then per network until the transaction ends."""
        await _lock_in_order(
            self.db,
            (self._TARGET_LOCK, f"{action}:{target_key}"),
            (self._NETWORK_LOCK, f"{action}:{network}"),
        )

    async def recent(
        self, action: str, since: datetime, windows: dict[str, RequestWindow]
    ) -> dict[str, list[datetime]]:
        """For each window, when its newest admitted requests after `since` came, newest
        first: one statement for all of them."""
        queries = {}
        for name, window in windows.items():
            query = (
                select(RequestEvent.at)
                .where(RequestEvent.action == action, col(RequestEvent.at) > since)
                .order_by(col(RequestEvent.at).desc())
                .limit(window.count)
            )
            if window.network is not None:
                query = query.where(RequestEvent.client_network == window.network)
            if window.target_key is not None:
                query = query.where(RequestEvent.target_key == window.target_key)
            queries[name] = query
        rows = await _newest_of_each(self.db, queries)
        return {name: sorted((at for (at,) in found), reverse=True) for name, found in rows.items()}

    def add(self, event: RequestEvent) -> None:
        self.db.add(event)
