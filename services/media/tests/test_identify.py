"""Validation by content: what an upload really is, or a typed refusal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from media import imaging, testing
from media.imaging import CorruptImage, ImageInfo, TooManyPixels, identify


def test_a_camera_jpeg_is_described_as_shown_upright(camera_jpeg: Path) -> None:
    assert identify(camera_jpeg) == ImageInfo(
        format="JPEG",
        mime_type="image/jpeg",
        width=3000,  # stored 4000x3000, orientation 6 turns it a quarter
        height=4000,
        frames=1,
        animated=False,
        has_alpha=False,
        orientation=6,
    )


def test_alpha_and_animation_are_reported(alpha_png: Path, animated_gif: Path) -> None:
    png = identify(alpha_png)
    assert (png.format, png.mime_type, png.has_alpha, png.animated) == (
        "PNG",
        "image/png",
        True,
        False,
    )
    gif = identify(animated_gif)
    assert (gif.format, gif.width, gif.height, gif.frames, gif.animated) == (
        "GIF",
        900,
        600,
        4,
        True,
    )


def test_webp_is_accepted_by_content_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"  # a WebP under a PNG's name
    testing.photo((320, 240)).save(path, "WEBP")
    info = identify(path)
    assert (info.format, info.mime_type, info.width, info.height) == (
        "WEBP",
        "image/webp",
        320,
        240,
    )


@pytest.mark.parametrize(
    "case",
    [
        "text named .jpg",
        "svg",
        "bmp",
        "pdf named .png",
        "empty file",
        "truncated jpeg",
        "png bomb",
    ],
)
def test_refused_uploads_get_a_typed_error(tmp_path: Path, case: str) -> None:
    path, error = testing.refused_uploads(tmp_path)[case]
    with pytest.raises(imaging.ImagingError) as caught:
        identify(path)
    assert type(caught.value).__name__ == error
    expected_status = 415 if error == "UnsupportedMediaType" else 422
    assert caught.value.status == expected_status
    assert not caught.value.retryable


def test_a_jpeg_missing_only_its_last_bytes_is_refused(tmp_path: Path) -> None:
    path = testing.write_jpeg(tmp_path / "a.jpg", (800, 600), gps=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4096])
    with pytest.raises(CorruptImage):
        identify(path)


def test_a_png_with_a_damaged_chunk_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    testing.photo((200, 150)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[len(data) // 2] ^= 0xFF  # inside IDAT: the CRC no longer matches
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImage):
        identify(path)


def test_the_pixel_cap_comes_from_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (100, 100)).save(path)
    assert identify(path, max_pixels=10_000).width == 100
    with pytest.raises(TooManyPixels, match="more than 9,999 pixels"):
        identify(path, max_pixels=9_999)


def test_pillows_own_bomb_checks_are_refusals_too(tmp_path: Path) -> None:
    # Our cap set far above Pillow's: its error (above 2x MAX_IMAGE_PIXELS) and its warning
    # (above MAX_IMAGE_PIXELS) must both end as TooManyPixels, never as a decoded image.
    pillow_limit = Image.MAX_IMAGE_PIXELS
    assert pillow_limit is not None
    above_error = testing.write_png_bomb(tmp_path / "error.png", 20_000, 20_000)
    above_warning = testing.write_png_bomb(tmp_path / "warning.png", 10_000, 10_000)
    assert 20_000 * 20_000 > 2 * pillow_limit > 10_000 * 10_000 > pillow_limit
    for path in (above_error, above_warning):
        with pytest.raises(TooManyPixels):
            identify(path, max_pixels=10**12)


def test_truncated_loading_switched_on_is_refused_not_obeyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = testing.write_truncated_jpeg(tmp_path / "cut.jpg", (400, 300))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        identify(path)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {}), ("WEBP", {}), ("GIF", {})],
)
@pytest.mark.parametrize("kept", [0.5, 0.99])
def test_every_format_cut_short_is_corrupt(
    tmp_path: Path, fmt: str, options: dict[str, bool], kept: float
) -> None:
    buffer = io.BytesIO()
    testing.photo((400, 300)).save(buffer, fmt, **options)
    path = tmp_path / "cut"
    path.write_bytes(buffer.getvalue()[: int(len(buffer.getvalue()) * kept)])
    with pytest.raises(CorruptImage):
        identify(path)
