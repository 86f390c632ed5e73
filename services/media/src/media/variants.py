"""Resized, upright, metadata-free variants of an accepted image, written to a given directory.

Decisions (docs/services/media-imaging.md has the measurements behind them):
- Upright: the EXIF orientation is applied to the pixels, then dropped with everything else.
- Metadata: none survives. EXIF (GPS, camera, times), XMP, comments and IPTC are not copied; a
  colour profile other than sRGB is converted to sRGB first (so Display P3 or Adobe RGB photos
  keep their colours) and then dropped too: browsers read untagged images as sRGB.
- Never upscaled: a wanted width above the original's is skipped; an image narrower than every
  wanted width gets one variant at its own width, so every accepted image has a rendition.
- Animated GIF/WebP/PNG: the variants are stills of the first frame.
- Alpha: WebP keeps it; JPEG has none, so transparent pixels are flattened onto white.
- Names are deterministic, `{width}w.{ext}`, so object keys follow from (media, event, name).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageCms

from media.imaging import (
    DEFAULT_MAX_PIXELS,
    decoding,
    displayed_size,
    format_of,
    has_alpha,
    open_image,
    orientation_of,
)

WHITE = (255, 255, 255)
LANCZOS = Image.Resampling.LANCZOS
BICUBIC = Image.Resampling.BICUBIC


@dataclass(frozen=True)
class OutputFormat:
    pillow: str
    content_type: str
    extension: str


OUTPUT_FORMATS = {
    "webp": OutputFormat("WEBP", "image/webp", "webp"),
    "jpeg": OutputFormat("JPEG", "image/jpeg", "jpg"),
}

_VARIANT_NAME = re.compile(
    r"[1-9][0-9]*w\.(?:" + "|".join(f.extension for f in OUTPUT_FORMATS.values()) + ")"
)

# How to turn a stored image upright for each EXIF orientation: the table of
# PIL.ImageOps.exif_transpose, applied here to the resized image instead of the full original
# (a quarter of the pixels to move); a test holds it equal to exif_transpose.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class VariantSpec:
    """What to render: the same for every image, from the service's settings."""

    widths: tuple[int, ...] = (1600, 800, 200)
    formats: tuple[str, ...] = ("webp", "jpeg")
    webp_quality: int = 80
    webp_method: int = 2
    """libwebp effort 0-6. Not its default 4: at 4 WebP encoding is 70% of the pipeline's CPU,
    and 2 spends 2.6x less on it for files ~6% larger at the same quality (-0.07 dB PSNR on the
    benchmark photo); docs/services/media-imaging.md has the measurements. 3 costs as much as 4."""
    jpeg_quality: int = 82
    jpeg_optimize: bool = False
    jpeg_progressive: bool = False

    def __post_init__(self) -> None:
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"variant widths must be positive, got {self.widths}")
        if not self.formats or any(f not in OUTPUT_FORMATS for f in self.formats):
            raise ValueError(f"variant formats must be among {sorted(OUTPUT_FORMATS)}")
        if not 0 <= self.webp_method <= 6:
            raise ValueError("webp_method must be 0-6")
        if not (1 <= self.webp_quality <= 100 and 1 <= self.jpeg_quality <= 95):
            raise ValueError("webp_quality must be 1-100 and jpeg_quality 1-95")


DEFAULT_SPEC = VariantSpec()


@dataclass(frozen=True)
class RenderedVariant:
    name: str
    """The file name, `{width}w.{ext}`: unique within a render, stable across retries."""
    width: int
    height: int
    format: str
    content_type: str
    path: Path
    size_bytes: int


def variant_name(width: int, output: OutputFormat) -> str:
    return f"{width}w.{output.extension}"


def is_variant_name(name: str) -> bool:
    """Whether a file in an output directory is one render() writes."""
    return _VARIANT_NAME.fullmatch(name) is not None


def plan_sizes(original: tuple[int, int], widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """Displayed sizes to render, largest first; never wider than the original."""
    width, height = original
    fitting = sorted({w for w in widths if w <= width}, reverse=True) or [width]
    return [(w, max(1, round(height * w / width))) for w in fitting]


def render(
    source: Path,
    out_dir: Path,
    spec: VariantSpec = DEFAULT_SPEC,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[RenderedVariant]:
    """Write every variant of `source` into `out_dir`; on any failure remove what was written."""
    if not out_dir.is_dir():
        raise NotADirectoryError(f"variants need an existing directory, not {out_dir}")
    written: list[Path] = []
    try:
        return list(_render(source, out_dir, spec, max_pixels, written))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _render(
    source: Path, out_dir: Path, spec: VariantSpec, max_pixels: int, written: list[Path]
) -> Iterator[RenderedVariant]:
    with open_image(source, max_pixels) as image, decoding("pixel data"):
        orientation = orientation_of(image)
        sizes = plan_sizes(displayed_size(image.size, orientation), spec.widths)
        current = _decode_upright(image, sizes[0], orientation)
    for size in sizes:
        if current.size != size:
            # Each size from the previous one: the chain touches far fewer pixels than
            # resizing the original every time, and LANCZOS at each step keeps it sharp.
            current = current.resize(size, LANCZOS)
        flattened: Image.Image | None = None
        for key in spec.formats:
            output = OUTPUT_FORMATS[key]
            if output.pillow == "JPEG" and current.mode == "RGBA":
                flattened = flattened or _flatten(current)
                picture = flattened
            else:
                picture = current
            path = out_dir / variant_name(size[0], output)
            written.append(path)  # before opening: a half-written file is removed too
            with path.open("wb") as file:
                _encode(picture, output, spec, file)
            yield RenderedVariant(
                name=path.name,
                width=size[0],
                height=size[1],
                format=key,
                content_type=output.content_type,
                path=path,
                size_bytes=path.stat().st_size,
            )


def _decode_upright(image: Image.Image, largest: tuple[int, int], orientation: int) -> Image.Image:
    """The first frame at the largest wanted size, upright, in sRGB, without metadata."""
    stored = (largest[1], largest[0]) if orientation in (5, 6, 7, 8) else largest
    box: tuple[float, float, float, float] | None = None
    if format_of(image) == "JPEG":
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding (DCT scaling): draft picks the
        # smallest scale that still covers the largest variant, so no pixel is invented.
        full_size = image.size
        drafted = image.draft(None, stored)
        if drafted is not None and image.size != full_size:
            box = drafted[1]  # the original's extent in the draft (its last block may be partial)
    profile = image.info.get("icc_profile")
    alpha = has_alpha(image)
    image.load()
    frame: Image.Image = _normalise_mode(image, alpha)
    if box is not None:
        # From a DCT-scaled draft (libjpeg has already smoothed it) the step left is small:
        # BICUBIC lands closer to an exact LANCZOS resize of the full original than LANCZOS
        # does (43.8 vs 43.0 dB PSNR on the benchmark photo) in two thirds of the time.
        frame = frame.resize(stored, BICUBIC, box=box)
    elif frame.size != stored:
        # No draft for PNG/WebP/GIF: for large factors reduce() by an integer first, then
        # LANCZOS over at least a 2x step (53.6 dB from an exact resize, 2.6x faster at 5x).
        frame = frame.resize(stored, LANCZOS, reducing_gap=2.0)
    if profile:
        frame = _to_srgb(frame, profile)
    if orientation in UPRIGHT:
        frame = frame.transpose(UPRIGHT[orientation])
    if frame is image:
        frame = image.copy()  # the opened file's image is unusable once it is closed
    frame.info = {}  # exif, xmp, icc_profile, comment, dpi...: nothing is carried over
    return frame


def _normalise_mode(image: Image.Image, alpha: bool) -> Image.Image:
    """RGB or RGBA (CMYK waits for its profile); palette, grey and 16-bit images converted."""
    if image.mode in ("RGB", "RGBA") or (image.mode == "CMYK" and "icc_profile" in image.info):
        return image
    if image.mode.startswith("I"):  # 16-bit grey PNG: scale to 8 bits rather than clip
        image = image.point(lambda v: v * (1 / 256)).convert("L")
    return image.convert("RGBA" if alpha else "RGB")


def _to_srgb(frame: Image.Image, profile: bytes) -> Image.Image:
    """Convert from an embedded profile to sRGB; an sRGB or unreadable profile is just dropped."""
    out_mode = "RGBA" if frame.mode == "RGBA" else "RGB"
    try:
        embedded = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if frame.mode != "CMYK" and "srgb" in ImageCms.getProfileDescription(embedded).lower():
            return frame  # already what browsers assume: a transform would cost ~70 ms for nothing
        transform = ImageCms.buildTransform(
            embedded, ImageCms.createProfile("sRGB"), frame.mode, out_mode
        )
        converted = ImageCms.applyTransform(frame, transform)
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken or mismatched profile (an RGB profile on a grey image) is ignored, as
        # browsers do: the pixels are shown as they are.
        return frame.convert(out_mode) if frame.mode != out_mode else frame
    assert converted is not None
    return converted


def _flatten(image: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", image.size, WHITE)
    canvas.paste(image, mask=image.getchannel("A"))
    return canvas


def _encode(image: Image.Image, output: OutputFormat, spec: VariantSpec, file: IO[bytes]) -> None:
    if output.pillow == "WEBP":
        image.save(file, "WEBP", quality=spec.webp_quality, method=spec.webp_method)
    else:
        image.save(
            file,
            "JPEG",
            quality=spec.jpeg_quality,
            optimize=spec.jpeg_optimize,
            progressive=spec.jpeg_progressive,
        )
