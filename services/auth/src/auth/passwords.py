"""Password policy (NIST SP 800-63B): what a password must be before it is hashed (hashing.py)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import pairwise

from auth.errors import WeakPassword

# Words a guesser tries first against this service (800-63B: "context-specific words").
CONTEXT_WORDS = frozenset({"portfolio", "portfolios", "myportfolio"})
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_AFFIXES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def normalise(password: str) -> str:
    """NFKC, as 800-63B asks before hashing: the same password typed on another keyboard or
    operating system (composed or decomposed accents, full-width digits) is the same password."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (from zxcvbn's data), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def _letters(text: str) -> str:
    return _NOT_LETTERS.sub("", text.lower())


def _is_monotonous(text: str) -> bool:
    """`aaaaaaaa`, `abababab`, `12345678`, `98765432`: one or two symbols, or a straight run."""
    if len(set(text)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    return steps in ({1}, {-1})


class PasswordPolicy:
    """Length, a blocklist and no composition rules: what 800-63B asks of a verifier.

    The blocklist also catches the usual mangling of a listed word (`iloveyou2024!`) and the
    user's own identity in disguise (`Ada.Lovelace1`), because guessers try those first.
    """

    def __init__(self, min_length: int = 12, max_length: int = 128) -> None:
        self.min_length = min_length
        self.max_length = max_length

    def check(self, password: str, *, email: str, display_name: str) -> None:
        # Length counts characters after NFKC, the form that is hashed.
        normalised = normalise(password)
        if len(normalised) < self.min_length:
            raise WeakPassword(
                "password-too-short",
                f"Use at least {self.min_length} characters; a passphrase of a few words works "
                "well.",
            )
        if len(normalised) > self.max_length:
            raise WeakPassword("password-too-long", f"Use at most {self.max_length} characters.")
        lowered = normalised.lower()
        core = _AFFIXES.sub("", lowered)
        if lowered in common_passwords() or (len(core) >= 4 and core in common_passwords()):
            raise WeakPassword(
                "password-too-common",
                "This password is one of the most common ones and easy to guess; choose another.",
            )
        if _is_monotonous(lowered):
            raise WeakPassword(
                "password-too-simple",
                "This password repeats or counts characters and is easy to guess; choose another.",
            )
        local_part = email.split("@", 1)[0]
        identity = {_letters(email), _letters(local_part), _letters(display_name)}
        identity.discard("")
        if lowered in {email.lower(), local_part.lower(), display_name.strip().lower()} or (
            len(_letters(lowered)) >= 3 and _letters(lowered) in identity | CONTEXT_WORDS
        ):
            raise WeakPassword(
                "password-is-identity",
                "Your password must not be your email address, your name or the name of this "
                "service, even with digits or symbols added.",
            )
