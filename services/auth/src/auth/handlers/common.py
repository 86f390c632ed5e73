"""What auth's use cases share: the unit of work factory, the client, and the request limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth import errors, throttle
from auth.attempts import RequestWindow
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
    limits = {
        "network": (RequestWindow(settings.requests_max_per_network, network=network)),
        "target": (RequestWindow(settings.requests_max_per_target, target_key=target)),
    }
    async with uow() as tx:
        await tx.requests.lock(action, target, network)
        recent = await tx.requests.recent(action, now - settings.request_window, limits)
        for name, window in limits.items():
            limit = throttle.Limit(window.count, settings.request_window)
            wait = throttle.window_wait(recent[name], limit, now)
            if wait is not None:
                raise errors.RateLimited(wait)
        tx.requests.add(
            RequestEvent(action=action, client_network=network, target_key=target, at=now)
        )
        await tx.commit()
