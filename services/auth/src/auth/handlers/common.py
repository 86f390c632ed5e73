"""What auth's use cases share: the unit of work factory, the client, and the request limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth import errors, throttle
from auth.config import Settings
from auth.models import RequestEvent
from auth.networks import network_of, target_of
from auth.unit_of_work import AuthUnitOfWork

UowFactory = Callable[[], AuthUnitOfWork]


@dataclass(frozen=True)
class Client:
    """Who is asking: the throttles' second key, and what the audit keeps."""

    address: str
    user_agent: str | None = None


async def admit(
    uow: UowFactory,
    action: str,
    client: Client,
    email_key: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Admit one request that may send mail (registration, password reset), or refuse it with
    429: per client network, and per target inbox. Checked before any argon2 hash, so a flood
    costs a query, not the hashing pool; the answer is the same for known and new addresses."""
    network, target = network_of(client.address), target_of(email_key)
    window = settings.request_window
    async with uow() as tx:
        await tx.requests.lock(action, target, network)
        per_network = await tx.requests.recent(
            action, now - window, settings.requests_max_per_network, network=network
        )
        per_target = await tx.requests.recent(
            action, now - window, settings.requests_max_per_target, target_key=target
        )
        for recent, maximum in (
            (per_network, settings.requests_max_per_network),
            (per_target, settings.requests_max_per_target),
        ):
            wait = throttle.window_wait(recent, throttle.Limit(maximum, window), now)
            if wait is not None:
                raise errors.RateLimited(wait)
        tx.requests.add(
            RequestEvent(action=action, client_network=network, target_key=target, at=now)
        )
        await tx.commit()
