"""The pure rules, without I/O: the password policy and the throttle's decision."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from auth import throttle
from auth.errors import WeakPassword
from auth.models import BAD_CREDENTIALS, IN_PROGRESS, SUCCESS
from auth.passwords import PasswordPolicy, normalise

POLICY = PasswordPolicy(min_length=8, max_length=128)
EMAIL, NAME = "ada.lovelace@example.org", "Ada Lovelace"


def refusal(password: str) -> str | None:
    """The refusal's code, or None; every refusal must tell the user what to do."""
    try:
        POLICY.check(password, email=EMAIL, display_name=NAME)
    except WeakPassword as exc:
        return exc.code if str(exc) else "a refusal without a message"
    return None


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("seven77", "password-too-short"),
        ("x" * 129, "password-too-long"),
        ("iloveyou", "password-too-common"),
        ("Password1", "password-too-common"),
        ("iloveyou2024!", "password-too-common"),  # a listed word in the usual disguise
        ("!!monkey99", "password-too-common"),
        ("aaaaaaaaaaaa", "password-too-simple"),
        ("abababababab", "password-too-simple"),
        ("3456789:;<=>", "password-too-simple"),
        ("zyxwvutsrqpo", "password-too-simple"),
        ("ada.lovelace@example.org", "password-is-identity"),
        ("Ada.Lovelace1", "password-is-identity"),
        ("ADA LOVELACE", "password-is-identity"),
        ("Portfolio#2024", "password-is-identity"),
        # Not refused: length and a blocklist only, no composition rules (800-63B).
        ("correct horse battery staple", None),
        ("all lowercase words are fine", None),
        ("zq8$Lm2@", None),
        ("パスワードは長い方がいい", None),  # any script is welcome
    ],
)
def test_the_policy_refuses_guessable_passwords_and_nothing_else(
    password: str, code: str | None
) -> None:
    assert refusal(password) == code


def test_length_counts_characters_after_nfkc() -> None:
    # Eight characters, each typed as a letter and a combining accent: 16 code points.
    decomposed = unicodedata.normalize("NFD", "éèêëàâîï")
    assert len(decomposed) == 16
    assert refusal(decomposed) is None
    assert len(normalise(decomposed)) == 8
    assert refusal(unicodedata.normalize("NFD", "éèêëàâî")) == "password-too-short"
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "pass1234")  # the full-width forms
    assert normalise(full_width) == "pass1234"


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMIT = throttle.Limit(max_failures=3, window=timedelta(minutes=15))


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_under_the_limit_an_attempt_may_run() -> None:
    assert throttle.wait_time([], LIMIT, NOW) is None
    recent = [(BAD_CREDENTIALS, ago(1)), (BAD_CREDENTIALS, ago(2))]
    assert throttle.wait_time(recent, LIMIT, NOW) is None


def test_at_the_limit_the_wait_lasts_until_the_oldest_counted_failure_leaves_the_window() -> None:
    recent = [(IN_PROGRESS, ago(1)), (BAD_CREDENTIALS, ago(4)), (BAD_CREDENTIALS, ago(10))]
    assert throttle.wait_time(recent, LIMIT, NOW) == timedelta(minutes=5)


def test_a_success_restarts_the_count() -> None:
    recent = [(BAD_CREDENTIALS, ago(1)), (BAD_CREDENTIALS, ago(2)), (SUCCESS, ago(3))]
    assert throttle.wait_time(recent, LIMIT, NOW) is None


def test_outcomes_that_are_not_guesses_do_not_count() -> None:
    recent = [("pending", ago(1)), ("throttled", ago(2)), (BAD_CREDENTIALS, ago(3))]
    assert throttle.wait_time(recent, LIMIT, NOW) is None


def test_the_wait_is_never_zero() -> None:
    recent = [(BAD_CREDENTIALS, ago(15))] * 3
    assert throttle.wait_time(recent, LIMIT, NOW) == timedelta(seconds=1)
