"""Builders media's tests, the e2e suite and the benchmark share: real image files (photos with
metadata, alpha, animation, bombs) and storage settings for a devkit S3 server."""

from __future__ import annotations

import random
import struct
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import ExifTags, Image, ImageCms, ImageDraw
from pydantic import SecretStr

from events import Event
from events.contracts import Collaborator, PortfolioCreatedV1, PortfolioItemAddedV1
from events.settings import BusSettings
from events.testing import example_event
from media.config import Settings
from media.imaging_pool import ImagingSettings
from media.storage_settings import MIB, S3Settings

if TYPE_CHECKING:
    from devkit.platform import LocalRun
    from devkit.s3server import S3Server  # dev-only: never imported at run time here

RED = (255, 0, 0)
BLUE = (0, 0, 255)
MARKER = 0.12
"""Corner markers cover this fraction of each side (stored orientation)."""

XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Test Photographer"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def photo(size: tuple[int, int] = (4000, 3000), seed: int = 1) -> Image.Image:
    """Photo-like RGB content: smooth colour fields, mid-scale detail, texture, grain and edges.

    Flat colour would let every encoder and resizer cheat; this compresses like a real photo
    (a 12 MP one is ~3-4 MB as a quality-90 JPEG) and is reproducible from the seed.
    """
    rng = random.Random(seed)  # noqa: S311 - test content, reproducible on purpose
    width, height = size

    def noise(w: int, h: int, mode: str = "RGB") -> Image.Image:
        return Image.frombytes(mode, (w, h), rng.randbytes(w * h * len(mode)))

    image = noise(6, 5).resize(size, Image.Resampling.BICUBIC)
    for divisor, weight in ((60, 0.35), (12, 0.18), (3, 0.10)):
        layer = noise(max(1, width // divisor), max(1, height // divisor))
        image = Image.blend(image, layer.resize(size, Image.Resampling.BICUBIC), weight)
    grain = noise(width, height, "L").convert("RGB")
    image = Image.blend(image, grain, 0.04)
    draw = ImageDraw.Draw(image)
    for _ in range(40):  # hard edges, like the outlines of objects in a scene
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(2, width // 40), max(3, width // 6))
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=fill, width=max(1, width // 400))
    return image


def with_corner_markers(image: Image.Image) -> Image.Image:
    """Red top-left and blue top-right blocks, so a test can tell a rotation from a mirror."""
    marked = image.copy()
    mw, mh = max(1, int(image.width * MARKER)), max(1, int(image.height * MARKER))
    marked.paste(RED, (0, 0, mw, mh))
    marked.paste(BLUE, (image.width - mw, 0, image.width, mh))
    return marked


def camera_exif(orientation: int = 1, *, gps: bool = True) -> Image.Exif:
    """What a phone writes: make, model, time, orientation and (optionally) where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Model 1"
    exif[ExifTags.Base.DateTime] = "2024:05:01 12:00:00"
    exif[ExifTags.Base.Orientation] = orientation
    if gps:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps_ifd[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps_ifd[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# sRGB's primaries adapted to D50, as an ICC matrix profile stores them (X, Y, Z columns).
_SRGB_RED = (0.4361, 0.2225, 0.0139)
_SRGB_GREEN = (0.3851, 0.7169, 0.0971)
_SRGB_BLUE = (0.1431, 0.0606, 0.7141)


def swapped_primaries_profile() -> bytes:
    """An ICC v2 RGB profile whose red and green primaries are sRGB's green and red.

    A stand-in for Display P3 or Adobe RGB that no test can misread: a pixel that is pure red
    in this space is pure green in sRGB, so a variant shows whether it was really converted.
    """
    return rgb_profile("Swapped primaries (test)", (_SRGB_GREEN, _SRGB_RED, _SRGB_BLUE))


def rgb_profile(
    description: str,
    primaries: tuple[tuple[float, float, float], ...],
    gamma: float = 2.2,
) -> bytes:
    """A minimal ICC v2 display profile: three primaries, one gamma curve, D50 white."""

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ " + bytes(4) + s15(*values)

    text = description.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [
        (b"desc", desc),
        (b"cprt", b"text" + bytes(4) + b"No copyright, test data\0"),
        (b"wtpt", xyz((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz(primaries[0])),
        (b"gXYZ", xyz(primaries[1])),
        (b"bXYZ", xyz(primaries[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)  # every tag starts on a 4-byte boundary
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + s15(0.9642, 1.0, 0.8249)
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def write_jpeg(
    path: Path,
    size: tuple[int, int] = (4000, 3000),
    *,
    orientation: int = 1,
    gps: bool = True,
    markers: bool = True,
    quality: int = 90,
    seed: int = 1,
) -> Path:
    """A camera JPEG: EXIF (orientation, GPS), XMP, an ICC profile and a comment."""
    image = photo(size, seed)
    if markers:
        image = with_corner_markers(image)
    image.save(
        path,
        "JPEG",
        quality=quality,
        exif=camera_exif(orientation, gps=gps),
        xmp=XMP_PACKET,
        icc_profile=srgb_profile(),
        comment=b"taken at home",
    )
    return path


def write_png_alpha(path: Path, size: tuple[int, int] = (1200, 900)) -> Path:
    """RGBA: the left half fully transparent, the right half opaque photo content."""
    image = photo(size, seed=2).convert("RGBA")
    alpha = Image.new("L", size, 255)
    alpha.paste(0, (0, 0, size[0] // 2, size[1]))
    image.putalpha(alpha)
    image.save(path, "PNG")
    return path


def write_animated_gif(path: Path, size: tuple[int, int] = (600, 400), frames: int = 4) -> Path:
    """Frame 0 is red, the others other colours, so a still can be traced to its frame."""
    colours = [RED, (0, 200, 0), BLUE, (200, 200, 0)]
    images = [Image.new("RGB", size, colours[i % len(colours)]) for i in range(frames)]
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def write_png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A few hundred bytes that declare a gigantic 8-bit grey canvas (10 G pixels by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)  # four real rows, then nothing
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
    return path


def write_truncated_jpeg(path: Path, size: tuple[int, int] = (1600, 1200)) -> Path:
    """A real JPEG cut in half, as an interrupted upload leaves it."""
    write_jpeg(path, size, gps=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_not_an_image(path: Path) -> Path:
    """Text under an image's name: the name must not matter."""
    path.write_text("this is not a picture, whatever the extension says\n" * 20)
    return path


def write_svg(path: Path) -> Path:
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        '<script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>\n'
    )
    return path


def write_bmp(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, RED).save(path, "BMP")
    return path


def write_pdf(path: Path) -> Path:
    Image.new("RGB", (64, 48), RED).save(path, "PDF")
    return path


def refused_uploads(directory: Path) -> dict[str, tuple[Path, str]]:
    """Uploads that must be refused: case -> (file, the name of the error identify raises)."""
    return {
        "text named .jpg": (write_not_an_image(directory / "notes.jpg"), "UnsupportedMediaType"),
        "svg": (write_svg(directory / "logo.svg"), "UnsupportedMediaType"),
        "bmp": (write_bmp(directory / "old.bmp"), "UnsupportedMediaType"),
        "pdf named .png": (write_pdf(directory / "scan.png"), "UnsupportedMediaType"),
        "empty file": (_empty(directory / "empty.webp"), "UnsupportedMediaType"),
        "truncated jpeg": (write_truncated_jpeg(directory / "cut.jpg"), "CorruptImage"),
        "png bomb": (write_png_bomb(directory / "bomb.png"), "TooManyPixels"),
    }


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def s3_settings_for(server: S3Server, bucket: str, **overrides: Any) -> S3Settings:
    """Settings for `bucket` on a local server, failing fast (an outage shows in seconds) and
    switching to multipart at 5 MiB so tests exercise it with small files."""
    values: dict[str, Any] = {
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key": SecretStr(server.access_key),
        "secret_key": SecretStr(server.secret_key),
        "bucket": bucket,
        "multipart_threshold": 5 * MIB,
        "part_size": 5 * MIB,
        "connect_timeout_s": 1.0,
        "read_timeout_s": 2.0,
        "max_attempts": 2,
    }
    values.update(overrides)
    return S3Settings(**values)


def local_env(run: LocalRun) -> dict[str, str]:
    """Media's own settings for a local run: a temp folder of the run's own, one imaging worker."""
    temp = run.platform.log_dir / "media-tmp"
    return {"TEMP_DIR": str(temp), "IMAGING__WORKERS": "1"}


def settings_for(
    database_url: str, s3: S3Settings, bus: BusSettings | None = None, **overrides: Any
) -> Settings:
    """Test settings: a real database and S3 bucket, one imaging worker, small upload caps."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": SecretStr(database_url),
        "s3": s3,
        "imaging": ImagingSettings(workers=1),
        "log_json": False,
    }
    if bus is not None:
        values["bus"] = bus
    values.update(overrides)
    return Settings(**values)


def portfolio_events(
    owner: uuid.UUID,
    *,
    visibility: str = "private",
    collaborators: dict[uuid.UUID, str] | None = None,
    version: int = 2,
) -> tuple[uuid.UUID, uuid.UUID, list[Event[Any]]]:
    """A portfolio and one item as portfolio announces them: (portfolio id, item id, events)."""
    portfolio, item = uuid.uuid4(), uuid.uuid4()
    people = [Collaborator(user_id=user, role=role) for user, role in (collaborators or {}).items()]
    created = example_event(
        PortfolioCreatedV1,
        portfolio_id=portfolio,
        owner_id=owner,
        visibility=visibility,
        collaborators=people,
        version=version - 1,
    )
    added = example_event(
        PortfolioItemAddedV1, portfolio_id=portfolio, owner_id=owner, item_id=item, version=version
    )
    return portfolio, item, [created, added]
