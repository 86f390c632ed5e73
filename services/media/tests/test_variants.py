"""Variants: upright, metadata-free, never upscaled, alpha kept or flattened, no leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageOps

from media import imaging, testing
from media.variants import (
    UPRIGHT,
    RenderedVariant,
    VariantSpec,
    is_variant_name,
    plan_sizes,
    render,
)

METADATA_MARKERS = (
    b"Exif\x00\x00",
    b"http://ns.adobe.com/xap",
    b"ICC_PROFILE",
    b"TestCam",
    b"taken at home",
    b"Test Photographer",
)


def rgba(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple), f"{image.mode} pixel {pixel!r}"
    return pixel


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def by_name(variants: list[RenderedVariant]) -> dict[str, RenderedVariant]:
    return {v.name: v for v in variants}


@pytest.fixture(scope="module")
def camera_variants(
    camera_jpeg: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[RenderedVariant]:
    return render(camera_jpeg, tmp_path_factory.mktemp("camera-variants"))


def test_the_camera_source_really_carries_what_must_be_stripped(camera_jpeg: Path) -> None:
    with Image.open(camera_jpeg) as source:
        exif = source.getexif()
        assert exif[ExifTags.Base.Orientation] == 6
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert {"xmp", "icc_profile", "comment"} <= source.info.keys()


def test_every_width_in_both_formats_with_deterministic_names(
    camera_variants: list[RenderedVariant],
) -> None:
    assert [(v.name, v.width, v.height, v.format, v.content_type) for v in camera_variants] == [
        ("1600w.webp", 1600, 2133, "webp", "image/webp"),
        ("1600w.jpg", 1600, 2133, "jpeg", "image/jpeg"),
        ("800w.webp", 800, 1067, "webp", "image/webp"),
        ("800w.jpg", 800, 1067, "jpeg", "image/jpeg"),
        ("200w.webp", 200, 267, "webp", "image/webp"),
        ("200w.jpg", 200, 267, "jpeg", "image/jpeg"),
    ]
    for variant in camera_variants:
        assert variant.size_bytes == variant.path.stat().st_size > 0
        with Image.open(variant.path) as image:
            assert image.format == variant.format.upper()
            assert image.size == (variant.width, variant.height)


def test_variants_are_turned_upright(camera_variants: list[RenderedVariant]) -> None:
    # Stored: red block top-left, blue top-right. Orientation 6 turns the picture a quarter
    # clockwise, so red must be shown top-right and blue bottom-right (a mirror would differ).
    for variant in camera_variants:
        with Image.open(variant.path) as image:
            rgb = image.convert("RGB")
            w, h = rgb.size
            assert close_to(rgba(rgb, (int(w * 0.94), int(h * 0.04))), testing.RED)
            assert close_to(rgba(rgb, (int(w * 0.94), int(h * 0.96))), testing.BLUE)
            assert not close_to(rgba(rgb, (int(w * 0.06), int(h * 0.04))), testing.RED)


def test_no_metadata_survives(camera_variants: list[RenderedVariant]) -> None:
    for variant in camera_variants:
        with Image.open(variant.path) as image:
            exif = image.getexif()
            assert len(exif) == 0
            assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
            assert not {"exif", "xmp", "icc_profile", "comment"} & image.info.keys()
        raw = variant.path.read_bytes()
        assert not [marker for marker in METADATA_MARKERS if marker in raw], variant.name


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_table_matches_pillows_exif_transpose(orientation: int) -> None:
    stored = testing.with_corner_markers(Image.new("RGB", (40, 30), (0, 128, 0)))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    stored.info["exif"] = exif.tobytes()
    expected = ImageOps.exif_transpose(stored)
    ours = stored.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else stored
    assert ours.tobytes() == expected.tobytes() and ours.size == expected.size


def test_png_alpha_is_kept_in_webp_and_flattened_on_white_in_jpeg(
    alpha_png: Path, out_dir: Path
) -> None:
    variants = by_name(render(alpha_png, out_dir))
    assert set(variants) == {"800w.webp", "800w.jpg", "200w.webp", "200w.jpg"}  # 1200 wide
    for width in (800, 200):
        with Image.open(variants[f"{width}w.webp"].path) as webp:
            assert webp.mode == "RGBA"
            assert rgba(webp, (int(webp.width * 0.1), webp.height // 2))[3] == 0
            assert rgba(webp, (int(webp.width * 0.9), webp.height // 2))[3] == 255
        with Image.open(variants[f"{width}w.jpg"].path) as jpeg:
            assert jpeg.mode == "RGB"
            assert close_to(rgba(jpeg, (int(jpeg.width * 0.1), jpeg.height // 2)), (255,) * 3, 3)


def test_an_animated_gif_gives_stills_of_its_first_frame(animated_gif: Path, out_dir: Path) -> None:
    variants = render(animated_gif, out_dir)
    assert [(v.name, v.width, v.height) for v in variants] == [
        ("800w.webp", 800, 533),
        ("800w.jpg", 800, 533),
        ("200w.webp", 200, 133),
        ("200w.jpg", 200, 133),
    ]
    for variant in variants:
        with Image.open(variant.path) as still:
            assert getattr(still, "n_frames", 1) == 1
            assert close_to(rgba(still.convert("RGB"), (10, 10)), testing.RED, 10)


def test_nothing_is_upscaled(tmp_path: Path, out_dir: Path) -> None:
    small = tmp_path / "small.jpg"
    testing.photo((150, 100)).save(small, "JPEG")
    variants = render(small, out_dir)
    assert [(v.name, v.width, v.height) for v in variants] == [
        ("150w.webp", 150, 100),
        ("150w.jpg", 150, 100),
    ]
    medium = tmp_path / "medium.png"
    testing.photo((1000, 500)).save(medium, "PNG")
    assert [v.width for v in render(medium, tmp_path)] == [800, 800, 200, 200]


def test_plan_sizes_keeps_the_aspect_and_skips_widths_above_the_original() -> None:
    assert plan_sizes((3000, 4000), (200, 1600, 800)) == [(1600, 2133), (800, 1067), (200, 267)]
    assert plan_sizes((800, 10), (1600, 800, 200)) == [(800, 10), (200, 2)]
    assert plan_sizes((5000, 1), (200,)) == [(200, 1)]  # never a zero-height variant
    assert plan_sizes((120, 90), (1600, 800, 200)) == [(120, 90)]


def test_a_wide_gamut_profile_is_converted_to_srgb_then_dropped(
    tmp_path: Path, out_dir: Path
) -> None:
    # Pure red in a space whose red primary is sRGB's green: shown right, it is green.
    profile = testing.swapped_primaries_profile()
    jpeg = tmp_path / "wide.jpg"
    Image.new("RGB", (300, 200), testing.RED).save(jpeg, "JPEG", icc_profile=profile)
    png = tmp_path / "wide.png"
    Image.new("RGBA", (300, 200), (*testing.RED, 128)).save(png, "PNG", icc_profile=profile)
    for source in (jpeg, png):
        for variant in render(source, out_dir):
            with Image.open(variant.path) as image:
                assert "icc_profile" not in image.info
                pixel = rgba(image, (100, 50))
                if variant.format == "webp" and source is png:
                    assert pixel[3] == 128  # alpha goes through the transform untouched
                    assert close_to(pixel, (0, 255, 0), 12), (source.name, variant.name)
                elif source is jpeg:
                    assert close_to(pixel, (0, 255, 0), 12), (source.name, variant.name)
                else:  # half-transparent green flattened on white
                    assert close_to(pixel, (127, 255, 127), 12), (source.name, variant.name)
            variant.path.unlink()


def test_a_broken_profile_is_ignored_not_fatal(tmp_path: Path, out_dir: Path) -> None:
    source = tmp_path / "broken-profile.jpg"
    Image.new("RGB", (300, 200), testing.RED).save(source, "JPEG", icc_profile=b"not a profile")
    for variant in render(source, out_dir):
        with Image.open(variant.path) as image:
            assert "icc_profile" not in image.info
            assert close_to(rgba(image, (100, 50)), testing.RED, 12)


def test_cmyk_and_16_bit_grey_come_out_as_plain_rgb(tmp_path: Path, out_dir: Path) -> None:
    cmyk = tmp_path / "print.jpg"
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(cmyk, "JPEG")  # red in print inks
    grey16 = tmp_path / "scan.png"
    Image.new("I;16", (300, 200), 32768).save(grey16, "PNG")  # mid grey in 16 bits
    for source, colour in ((cmyk, testing.RED), (grey16, (128, 128, 128))):
        for variant in render(source, out_dir):
            with Image.open(variant.path) as image:
                assert image.mode == "RGB"
                assert close_to(rgba(image, (100, 50)), colour, 12), (source.name, variant.name)
            variant.path.unlink()


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
def test_a_refused_source_leaves_the_output_directory_empty(
    tmp_path: Path, out_dir: Path, case: str
) -> None:
    path, error = testing.refused_uploads(tmp_path)[case]
    with pytest.raises(imaging.ImagingError) as caught:
        render(path, out_dir)
    assert type(caught.value).__name__ == error
    assert list(out_dir.iterdir()) == []


def test_a_write_failure_midway_removes_what_was_written(alpha_png: Path, out_dir: Path) -> None:
    (out_dir / "200w.webp").mkdir()  # the third file cannot be opened for writing
    with pytest.raises(IsADirectoryError):
        render(alpha_png, out_dir)
    assert [p.name for p in out_dir.iterdir()] == ["200w.webp"]


def test_only_an_existing_directory_is_written_to(alpha_png: Path, tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        render(alpha_png, tmp_path / "missing")


def test_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="widths"):
        VariantSpec(widths=())
    with pytest.raises(ValueError, match="formats"):
        VariantSpec(formats=("gif",))
    with pytest.raises(ValueError, match="webp_method"):
        VariantSpec(webp_method=9)


def test_variant_names_are_recognised() -> None:
    assert is_variant_name("1600w.webp") and is_variant_name("150w.jpg")
    assert not any(map(is_variant_name, ["upload.jpg", "0w.jpg", "800w.png", ".800w.jpg"]))
