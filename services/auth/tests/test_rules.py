"""The pure rules, without I/O: the password policy and the throttle's decision."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from auth import throttle
from auth.errors import WeakPassword
from auth.models import BAD_CREDENTIALS, IN_PROGRESS, SUCCESS
from auth.passwords import PasswordPolicy, normalise

POLICY = PasswordPolicy()
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
        ("elevenchars", "password-too-short"),  # ASVS 2.1.1: at least 12
        ("x" * 129, "password-too-long"),
        ("iloveyou1234", "password-too-common"),
        ("Password1234", "password-too-common"),
        ("iloveyou2024!", "password-too-common"),  # a listed word in the usual disguise
        ("!!!!monkey9999", "password-too-common"),
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
        ("zq8$Lm2@Rt5!", None),
        ("パスワードは長い方がいい", None),  # any script is welcome
    ],
)
def test_the_policy_refuses_guessable_passwords_and_nothing_else(
    password: str, code: str | None
) -> None:
    assert refusal(password) == code


def test_length_counts_characters_after_nfkc() -> None:
    # Twelve characters, each typed as a letter and a combining accent: 24 code points.
    decomposed = unicodedata.normalize("NFD", "éèêëàâîïôöùû")
    assert len(decomposed) == 24
    assert refusal(decomposed) is None
    assert len(normalise(decomposed)) == 12
    assert refusal(unicodedata.normalize("NFD", "éèêëàâîïôöù")) == "password-too-short"
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


def test_request_limits_count_every_admitted_request_in_the_window() -> None:
    limit = throttle.Limit(max_failures=2, window=timedelta(hours=1))
    assert throttle.window_wait([ago(1)], limit, NOW) is None
    assert throttle.window_wait([ago(1), ago(40)], limit, NOW) == timedelta(minutes=20)


def test_an_account_under_attack_from_everywhere_is_slowed_never_blocked() -> None:
    slow_after, delay = throttle.Limit(3, timedelta(minutes=15)), timedelta(seconds=30)
    calm = [(BAD_CREDENTIALS, ago(1)), (BAD_CREDENTIALS, ago(2))]
    assert throttle.spacing_wait(calm, slow_after, delay, NOW) is None
    busy = [(BAD_CREDENTIALS, NOW - timedelta(seconds=10)), *calm]
    assert throttle.spacing_wait(busy, slow_after, delay, NOW) == timedelta(seconds=20)
    later = NOW + timedelta(seconds=20)
    assert throttle.spacing_wait(busy, slow_after, delay, later) is None, "the next may run"
