"""Email syntax and normalisation: what makes two spellings the same account."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from auth.errors import InvalidEmail


def normalise(raw: str) -> tuple[str, str]:
    """The address to keep (domain lower-cased, IDNA-normalised) and its case-insensitive key.

    Local parts are case-sensitive in theory and never in practice; the key makes `Ada@x.org` and
    `ada@X.org` one account, while the address keeps the spelling the person typed.
    """
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return result.normalized, result.normalized.lower()
