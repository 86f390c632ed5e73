"""The suppression list as operators see it: look an address up, lift its suppression (audited).

A suppression is lifted when its cause is gone (a mailbox that was full is fixed, a complaint
was a mistake, a forged report got through): the address gets mail again, auth hears it through
email.suppression_lifted.v1, and the audit keeps who did it, when, why, and what was lifted.
"""

from __future__ import annotations

from events import get_logger
from events.contracts import EmailSuppressionLiftedV1
from notify import errors
from notify.handlers.common import UowFactory, address_key
from notify.models import LiftRequest, Suppression, SuppressionAudit
from servicekit.clock import Clock

log = get_logger("notify.suppressions")


async def suppression_of(address: str, *, uow: UowFactory) -> Suppression:
    async with uow() as tx:
        suppression = await tx.suppressions.get(address_key(address))
    if suppression is None:
        raise errors.NotSuppressed()
    return suppression


async def lift_suppression(
    address: str, request: LiftRequest, *, uow: UowFactory, clock: Clock
) -> SuppressionAudit:
    """Remove `address` from the suppression list, with an audit row and an event, at once."""
    key, now = address_key(address), clock.now()
    async with uow() as tx:
        suppression = await tx.suppressions.get(key, lock=True)
        if suppression is None:
            raise errors.NotSuppressed()
        audit = SuppressionAudit(
            address_key=key,
            action="lifted",
            operator=request.operator,
            reason=request.reason,
            previous_reason=suppression.reason,
            previous_detail=suppression.detail,
            suppressed_at=suppression.created_at,
            at=now,
        )
        await tx.suppressions.lift(suppression, audit)
        await tx.publish(
            EmailSuppressionLiftedV1(
                recipient=key, previous_reason=suppression.reason, lifted_at=now
            ),
            subject=key,
        )
        await tx.commit()
    log.warning(
        "suppression lifted",
        operator=request.operator,
        previous_reason=audit.previous_reason,
        audit_id=str(audit.id),
    )
    return audit
