"""What media's use cases refuse; each error carries the problem it answers with. Refusals of a
file's content come from imaging (415, 422) and of its size from the upload stream (413)."""

from __future__ import annotations

from media.imaging import CorruptImage, ImagingError, TooManyPixels, UnsupportedMediaType
from media.upload_stream import UploadMalformed, UploadTooLarge
from servicekit.errors import TYPE_BASE, DomainError, ProblemDetails, title_of

__all__ = [
    "CorruptImage",
    "ImagingError",
    "TooManyPixels",
    "UnsupportedMediaType",
    "UploadMalformed",
    "UploadTooLarge",
]


class ItemNotFound(DomainError):
    """Also what someone gets who may not see the item's portfolio."""

    status, slug, title = 404, "item-not-found", "Not found"
    detail = "There is no such item, or you may not see it."


class MediaNotFound(DomainError):
    status, slug, title = 404, "media-not-found", "Not found"
    detail = "There is no such media, or you may not see it."


class NotAllowed(DomainError):
    status, slug, title = 403, "not-allowed", "Forbidden"
    detail = "Only the portfolio's owner and editors may change its images."


class StorageDown(DomainError):
    status, slug, title = 503, "storage-unavailable", "Service unavailable"
    detail = "Files cannot be stored right now; nothing was kept. Try again shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "10"}


class UploadNotFound(DomainError):
    status, slug, title = 409, "upload-not-found", "Conflict"
    detail = "The store has no file for this upload yet: send it first, then complete."


class NotPending(DomainError):
    status, slug, title = 409, "not-pending", "Conflict"
    detail = "This upload was completed already."


class ContentRefused(DomainError):
    """An imaging refusal of a file's content, as the problem the API answers with."""

    def __init__(self, error: ImagingError) -> None:
        super().__init__(str(error))
        self.error = error

    def problem(self) -> ProblemDetails:
        status = int(getattr(self.error, "status", 422))
        slug = str(getattr(self.error, "slug", "invalid-image"))
        return ProblemDetails(status, TYPE_BASE + slug, title_of(status), str(self.error))
