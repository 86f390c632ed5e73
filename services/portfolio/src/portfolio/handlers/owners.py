"""portfolio.owners: who may own portfolios, from auth's user events.

Registered and verified arrive on one queue but may still be handled out of order (a retry, two
consumers): each only ever moves an owner forward (a verified owner stays verified), so either
order ends in the same state. Each owner gets a handle once, unique, from their display name.
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from events import Delivery, get_logger
from events.contracts import UserRegisteredV1, UserVerifiedV1
from portfolio.handlers.common import UowFactory
from portfolio.handles import handle_candidates
from portfolio.models import Owner
from portfolio.unit_of_work import PortfolioUnitOfWork

log = get_logger("portfolio.owners")


async def _upsert(
    tx: PortfolioUnitOfWork, data: UserRegisteredV1 | UserVerifiedV1, verified: bool
) -> None:
    at = data.registered_at if isinstance(data, UserRegisteredV1) else data.verified_at
    for handle in handle_candidates(data.display_name, data.user_id):
        statement = insert(Owner).values(
            user_id=data.user_id,
            display_name=data.display_name,
            handle=handle,
            verified=verified,
            registered_at=at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["user_id"],
            # The handle stays what it first was; verification only ever switches on.
            set_={"verified": or_(Owner.__table__.c.verified, statement.excluded.verified)},  # type: ignore[attr-defined]
        )
        try:
            async with tx.db.begin_nested():  # a taken handle rolls back this attempt only
                await tx.db.exec(statement)
            return
        except IntegrityError:
            continue
    raise RuntimeError(f"no free handle for user {data.user_id}")  # pragma: no cover


async def record_owner(
    delivery: Delivery[UserRegisteredV1 | UserVerifiedV1], *, uow: UowFactory
) -> None:
    async with uow() as tx:
        if not await tx.claim(delivery):
            return
        await _upsert(tx, delivery.data, isinstance(delivery.data, UserVerifiedV1))
        await tx.commit()
