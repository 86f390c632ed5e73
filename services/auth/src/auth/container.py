"""Auth's composition root: settings in, database, hasher, policy and signing keys out."""

from __future__ import annotations

from dataclasses import dataclass

from auth import keys
from auth.config import Settings
from auth.hashing import Argon2Cost, PasswordHasher
from auth.passwords import PasswordPolicy
from auth.unit_of_work import AuthUnitOfWork
from events import get_logger
from servicekit.clock import Clock, SystemClock
from servicekit.container import ServiceContainer, open_database

log = get_logger("auth.container")


@dataclass(kw_only=True)
class Container(ServiceContainer):
    settings: Settings
    hasher: PasswordHasher
    policy: PasswordPolicy
    keys: keys.KeyRing

    def uow(self) -> AuthUnitOfWork:
        return AuthUnitOfWork(self.sessions)


def key_ring(settings: Settings) -> keys.KeyRing:
    loaded = [keys.load(k) for k in settings.signing_keys]
    if not loaded:
        # Only in dev (the settings refuse it elsewhere): tokens die with the process.
        log.warning("no AUTH_SIGNING_KEYS: signing with an ephemeral key (dev only)")
        loaded = [keys.generate("dev-ephemeral")]
    return keys.KeyRing(loaded, issuer=settings.issuer, audience=settings.audience)


def build(settings: Settings, *, clock: Clock | None = None) -> Container:
    hasher = PasswordHasher(
        Argon2Cost(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        ),
        workers=settings.hash_workers,
        budget_s=settings.hash_queue_budget.total_seconds(),
    )
    container = Container(
        settings=settings,
        engine=open_database(settings),
        clock=clock or SystemClock(),
        hasher=hasher,
        policy=PasswordPolicy(settings.password_min_length, settings.password_max_length),
        keys=key_ring(settings),
    )
    container.on_close(hasher.aclose)
    return container
