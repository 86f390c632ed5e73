"""The throttles' memory: login attempts and requests that send mail, with the advisory locks
that serialise each decision (see throttle.py and handlers/common.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import LoginAttempt, RequestEvent


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
        connection = await self.db.connection()  # the unit of work's transaction
        for namespace, key in ((self._ACCOUNT_LOCK, email_key), (self._ADDRESS_LOCK, network)):
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
                {"namespace": namespace, "key": key},
            )

    async def recent(
        self,
        since: datetime,
        outcomes: Sequence[str],
        count: int,
        *,
        email_key: str | None = None,
        network: str | None = None,
    ) -> list[tuple[str, datetime]]:
        """The newest `count` attempts after `since` with one of `outcomes`, newest first."""
        query = (
            select(LoginAttempt.outcome, LoginAttempt.at)
            .where(LoginAttempt.at > since, col(LoginAttempt.outcome).in_(outcomes))
            .order_by(col(LoginAttempt.at).desc(), col(LoginAttempt.id).desc())
            .limit(count)
        )
        if email_key is not None:
            query = query.where(LoginAttempt.email_key == email_key)
        if network is not None:
            query = query.where(LoginAttempt.client_network == network)
        return [(outcome, at) for outcome, at in (await self.db.exec(query)).all()]

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
        connection = await self.db.connection()
        for namespace, key in ((self._TARGET_LOCK, target_key), (self._NETWORK_LOCK, network)):
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
                {"namespace": namespace, "key": f"{action}:{key}"},
            )

    async def recent(
        self,
        action: str,
        since: datetime,
        count: int,
        *,
        network: str | None = None,
        target_key: str | None = None,
    ) -> list[datetime]:
        """When the newest `count` admitted requests after `since` came, newest first."""
        query = (
            select(RequestEvent.at)
            .where(RequestEvent.action == action, col(RequestEvent.at) > since)
            .order_by(col(RequestEvent.at).desc())
            .limit(count)
        )
        if network is not None:
            query = query.where(RequestEvent.client_network == network)
        if target_key is not None:
            query = query.where(RequestEvent.target_key == target_key)
        return list((await self.db.exec(query)).all())

    def add(self, event: RequestEvent) -> None:
        self.db.add(event)
