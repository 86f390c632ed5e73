"""What botocore's and aiohttp's failures mean for the media service: retry, fix, or give up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from media.storage import ObjectMissing, StorageError, StorageMisconfigured, StorageUnavailable

_MISSING = {"NoSuchKey", "NotFound", "404"}
_OURS_TO_FIX = {
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "RequestTimeTooSkewed",
    "ExpiredToken",
    "InvalidToken",
    "AuthorizationHeaderMalformed",
    "403",
}
_BUSY = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "503",
}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def from_client_error(exc: ClientError, key: str | None = None) -> Exception:
    """The store answered, with a refusal: classify it by code, then by HTTP status."""
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if key is not None and code in _MISSING:
        return ObjectMissing(key)
    if code in _OURS_TO_FIX or status in (401, 403):
        return StorageMisconfigured(f"the store refuses us ({code or status}): {exc}")
    if code in _BUSY or status == 429 or status >= 500:
        return StorageUnavailable(f"the store is failing or busy ({code or status}): {exc}")
    return StorageError(f"the store refused the request ({code or status}): {exc}")


def from_transport_error(exc: BaseException) -> Exception:
    """No usable answer: refused, reset, timed out, cut mid-body, or a mistake of ours."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageMisconfigured(f"no usable S3 credentials: {exc}")
    if isinstance(exc, ParamValidationError):
        return StorageError(f"invalid S3 request: {exc}")
    detail = str(exc) or "no progress within the request's deadline"
    return StorageUnavailable(f"the store is unreachable: {type(exc).__name__}: {detail}")


@contextmanager
def translated(key: str | None = None) -> Iterator[None]:
    """Raise the port's errors instead of the client's; `key` names what ObjectMissing means."""
    try:
        yield
    except ClientError as exc:
        raise from_client_error(exc, key) from exc
    except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as exc:
        raise from_transport_error(exc) from exc
