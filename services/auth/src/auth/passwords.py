"""Password policy (NIST SP 800-63B) and argon2id hashing off the event loop."""

from __future__ import annotations

import asyncio
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth.errors import WeakPassword


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (from zxcvbn's data), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


class PasswordPolicy:
    """Length and a blocklist, no composition rules: what 800-63B asks of a verifier."""

    def __init__(self, min_length: int = 8, max_length: int = 128) -> None:
        self.min_length = min_length
        self.max_length = max_length

    def check(self, password: str, *, email: str, display_name: str) -> None:
        # Length counts characters after NFKC, so a password typed on another keyboard matches.
        normalised = unicodedata.normalize("NFKC", password)
        if len(normalised) < self.min_length:
            raise WeakPassword(
                "password-too-short",
                f"Use at least {self.min_length} characters; a passphrase of a few words works "
                "well.",
            )
        if len(normalised) > self.max_length:
            raise WeakPassword("password-too-long", f"Use at most {self.max_length} characters.")
        lowered = normalised.lower()
        if lowered in common_passwords():
            raise WeakPassword(
                "password-too-common",
                "This password is one of the most common ones and easy to guess; choose another.",
            )
        local_part = email.split("@", 1)[0].lower()
        if lowered in {email.lower(), local_part, display_name.strip().lower()}:
            raise WeakPassword(
                "password-is-identity",
                "Your password must not be your email address or your name.",
            )


class PasswordHasher:
    """argon2id in a small thread pool: hashing takes ~50 ms of CPU and 64 MiB, never on the
    event loop, and a semaphore bounds how many run at once (memory)."""

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_cost_kib: int = 65536,
        parallelism: int = 4,
        concurrency: int = 4,
    ) -> None:
        self._argon2 = Argon2(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy: str | None = None

    async def _run(self, fn: object, *args: str) -> object:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]

    async def hash(self, password: str) -> str:
        return str(await self._run(self._argon2.hash, password))

    async def verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._argon2.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return bool(await self._run(check))

    async def verify_nobody(self, password: str) -> None:
        """Spend the time of a real check when the account does not exist (timing oracle)."""
        if self._dummy is None:
            self._dummy = await self.hash("not a real password: only burns the same time")
        await self.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
