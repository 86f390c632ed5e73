"""Validating an upload by its content: which image it really is, and whether it decodes.

Nothing here trusts a file name, an extension or a declared Content-Type: the bytes are
identified by Pillow, restricted to the four formats the platform serves (JPEG, PNG, WebP, GIF),
checked against a pixel cap before anything is decoded, then decoded (cheaply where the format
allows) so that truncated or corrupt data is refused at upload time rather than in the worker.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 64_000_000
"""64 MP: above every phone and most camera sensors (a 50 MP photo is 8192x6144)."""

MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
_PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# Phones write multi-picture JPEGs (MPO: the photo plus a depth map or preview); Pillow's JPEG
# plugin opens them as MPO. They are JPEG files to every browser, so they are accepted as JPEG.
_ALIASES = {"MPO": "JPEG"}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SWAPS_AXES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture a quarter turn

# What a decoder raises on bad data. OSError covers "image file is truncated", "broken data
# stream" and libjpeg/libwebp failures; the others come from parsers of malformed headers.
DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


class ImagingError(Exception):
    """Base of what validation and rendering report; `status`/`slug` map to problem details."""

    status = 422
    slug = "invalid-image"
    retryable = False


class UnsupportedMediaType(ImagingError):
    """The content is not a JPEG, PNG, WebP or GIF image, whatever its name says."""

    status = 415
    slug = "unsupported-media-type"


class TooManyPixels(ImagingError):
    """The image declares more pixels than the cap: a decompression bomb, or simply too big."""

    slug = "too-many-pixels"


class CorruptImage(ImagingError):
    """The content says it is a supported image but does not decode: truncated or damaged."""

    slug = "corrupt-image"


@dataclass(frozen=True)
class ImageInfo:
    format: str
    """JPEG, PNG, WEBP or GIF."""
    mime_type: str
    width: int
    """As displayed, after the EXIF orientation is applied."""
    height: int
    frames: int
    animated: bool
    has_alpha: bool
    orientation: int
    """EXIF orientation 1-8 (1 = as stored); variants are rendered upright."""


def refuse_truncated_loading() -> None:
    """Refuse to run where Pillow was told to accept truncated files (it would half-decode them)."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on in this process: truncated uploads would "
            "be accepted; something imported here switched it on and must not"
        )


@contextmanager
def open_image(path: Path, max_pixels: int) -> Iterator[ImageFile.ImageFile]:
    """Open by content without decoding; typed errors for a wrong type or too many pixels."""
    refuse_truncated_loading()
    with warnings.catch_warnings():
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that (at open, or
        # when a GIF frame grows the canvas): both are refusals, never a log line.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path, formats=_PILLOW_FORMATS)
        except UnidentifiedImageError:
            raise UnsupportedMediaType("The file is not a JPEG, PNG, WebP or GIF image.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooManyPixels(_too_many(_pillow_cap(max_pixels))) from None
        except DECODE_ERRORS as exc:
            # The signature matched a supported format but the header is malformed.
            raise CorruptImage("The image's header is damaged.") from exc
        with image:
            if image.width < 1 or image.height < 1:
                raise CorruptImage("The image declares no pixels.")
            if image.width * image.height > max_pixels:
                raise TooManyPixels(_too_many(max_pixels))
            try:
                yield image
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise TooManyPixels(_too_many(_pillow_cap(max_pixels))) from None


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Turn whatever a decoder raises on bad data into CorruptImage."""
    try:
        yield
    except ImagingError:
        raise
    except DECODE_ERRORS as exc:
        raise CorruptImage(
            f"The image is truncated or damaged: its {what} cannot be read."
        ) from exc


def _too_many(max_pixels: int) -> str:
    return f"The image has more than {max_pixels:,} pixels."


def _pillow_cap(max_pixels: int) -> int:
    """The cap in force when Pillow's own bomb check refused first (ImagingPool aligns the two)."""
    return min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)


def format_of(image: Image.Image) -> str:
    name = image.format or ""
    return _ALIASES.get(name, name)


def orientation_of(image: Image.Image) -> int:
    """EXIF orientation (Pillow also reads an XMP tiff:Orientation); anything invalid is upright."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except DECODE_ERRORS:
        return 1  # unreadable EXIF is dropped from every variant anyway; the pixels are what count
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


def identify(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """What the upload really is, or a typed refusal; runs in an ImagingPool worker."""
    with open_image(path, max_pixels) as image:
        fmt = format_of(image)
        if fmt == "PNG":
            with decoding("chunks"):
                image.verify()  # chunk CRCs, which a load does not check; needs a fresh file
    with open_image(path, max_pixels) as image, decoding("pixel data"):
        stored_size = image.size
        frames = int(getattr(image, "n_frames", 1))
        animated = bool(getattr(image, "is_animated", False))
        alpha = has_alpha(image)
        if fmt == "JPEG":
            # At 1/8 scale libjpeg skips most of the IDCT but still entropy-decodes every
            # block, so a JPEG cut short is refused at a fraction of a full decode's cost.
            image.draft(None, (1, 1))
        image.load()  # the first frame: later GIF/WebP frames are not rendered
        orientation = orientation_of(image)  # after load: a PNG's eXIf chunk may follow IDAT
    width, height = displayed_size(stored_size, orientation)
    return ImageInfo(
        format=fmt,
        mime_type=MIME_TYPES[fmt],
        width=width,
        height=height,
        frames=frames,
        animated=animated,
        has_alpha=alpha,
        orientation=orientation,
    )
