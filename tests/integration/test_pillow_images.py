"""WebP thumbnails with the real Pillow: metadata gone, upright, bounded, bombs refused."""

import random
import struct
import subprocess
import sys
import time
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms

from adapters.pillow.images import PillowImageProcessor
from application.files.ports import UnreadableImageError

ROOMY = 100_000_000
RED = (255, 0, 0)
BLUE = (0, 0, 255)
CAMERA = "Portico Test Camera"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg' width='9' height='9'><rect/></svg>"


@pytest.fixture(scope="module")
def processor() -> PillowImageProcessor:
    return PillowImageProcessor()


def encoded(image: Image.Image, image_format: str, **params: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    assert image.format == "WEBP"
    image.load()
    return image


def near(pixel: object, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(got - wanted) <= tolerance for got, wanted in zip(pixel, colour, strict=True))


def png_bomb(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG, written row by row.

    Saving a blank image of this size with Pillow would allocate a byte per pixel first.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_gps_and_every_other_exif_tag_are_stripped(processor: PillowImageProcessor) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 41.0)
    photo = encoded(Image.new("RGB", (64, 48), RED), "JPEG", exif=exif)
    with Image.open(BytesIO(photo)) as source:
        assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"

    thumbnail = await processor.thumbnail(photo, max_edge=32, max_pixels=ROOMY)

    image = opened(thumbnail)
    assert not image.getexif()
    assert "exif" not in image.info
    assert "xmp" not in image.info
    assert b"Exif" not in thumbnail
    assert CAMERA.encode() not in thumbnail


async def test_the_exif_orientation_is_applied_to_the_pixels(
    processor: PillowImageProcessor,
) -> None:
    sideways = Image.new("RGB", (100, 50), BLUE)
    sideways.paste(RED, (0, 0, 50, 50))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    photo = encoded(sideways, "JPEG", exif=exif, quality=95)

    image = opened(await processor.thumbnail(photo, max_edge=40, max_pixels=ROOMY))

    assert image.size == (20, 40)
    assert near(image.getpixel((10, 5)), RED)
    assert near(image.getpixel((10, 35)), BLUE)
    assert not image.getexif()


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((400, 300), (100, 75)),
        ((300, 400), (75, 100)),
        ((60, 40), (60, 40)),
    ],
    ids=["landscape", "portrait", "already-small"],
)
async def test_the_longer_side_fits_max_edge(
    processor: PillowImageProcessor, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    photo = encoded(Image.new("RGB", size, RED), "PNG")

    image = opened(await processor.thumbnail(photo, max_edge=100, max_pixels=ROOMY))

    assert image.size == expected
    assert image.mode == "RGB"


async def test_a_png_keeps_its_transparency(processor: PillowImageProcessor) -> None:
    half_transparent = Image.new("RGBA", (80, 40), (*RED, 255))
    half_transparent.paste((0, 0, 0, 0), (40, 0, 80, 40))

    image = opened(
        await processor.thumbnail(encoded(half_transparent, "PNG"), max_edge=40, max_pixels=ROOMY)
    )

    assert image.mode == "RGBA"
    assert image.size == (40, 20)
    assert near(image.getpixel((5, 10)), (*RED, 255))
    assert image.getpixel((35, 10))[3] == 0  # type: ignore[index]


@pytest.mark.parametrize("image_format", ["GIF", "WEBP"])
async def test_an_animation_gives_its_first_frame(
    processor: PillowImageProcessor, image_format: str
) -> None:
    first, *others = [Image.new("RGB", (60, 60), colour) for colour in (RED, (0, 255, 0), BLUE)]
    animation = encoded(first, image_format, save_all=True, append_images=others, duration=100)
    with Image.open(BytesIO(animation)) as source:
        assert getattr(source, "n_frames", 1) == 3

    image = opened(await processor.thumbnail(animation, max_edge=30, max_pixels=ROOMY))

    assert getattr(image, "n_frames", 1) == 1
    assert image.size == (30, 30)
    assert near(image.convert("RGB").getpixel((15, 15)), RED)


async def test_sixteen_bit_greyscale_keeps_its_shade(processor: PillowImageProcessor) -> None:
    mid_grey = encoded(Image.new("I;16", (20, 20), 32_768), "PNG")

    image = opened(await processor.thumbnail(mid_grey, max_edge=10, max_pixels=ROOMY))

    assert near(image.getpixel((5, 5)), (128, 128, 128), tolerance=8)


async def test_an_rgb_colour_profile_is_kept(processor: PillowImageProcessor) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = encoded(Image.new("RGB", (50, 50), RED), "JPEG", icc_profile=srgb)

    image = opened(await processor.thumbnail(photo, max_edge=20, max_pixels=ROOMY))

    assert image.info.get("icc_profile") == srgb


async def test_a_decompression_bomb_is_refused_from_its_header(
    processor: PillowImageProcessor,
) -> None:
    bomb = png_bomb(20_000, 20_000)
    assert len(bomb) < 100_000

    started = time.perf_counter()
    with pytest.raises(UnreadableImageError):
        await processor.thumbnail(bomb, max_edge=512, max_pixels=40_000_000)

    assert time.perf_counter() - started < 1


async def test_max_pixels_is_checked_before_decoding(processor: PillowImageProcessor) -> None:
    below_pillows_own_limit = png_bomb(6_000, 6_000)

    with pytest.raises(UnreadableImageError, match="6000x6000 pixels"):
        await processor.thumbnail(below_pillows_own_limit, max_edge=512, max_pixels=10_000_000)


async def test_pillows_own_limit_holds_above_a_laxer_max_pixels(
    processor: PillowImageProcessor,
) -> None:
    beyond_pillows_warning = png_bomb(10_000, 10_000)

    with pytest.raises(UnreadableImageError, match="decoded safely"):
        await processor.thumbnail(beyond_pillows_warning, max_edge=512, max_pixels=10**9)


REFUSE_A_BOMB = """
import asyncio, re, sys
from pathlib import Path
from adapters.pillow.images import PillowImageProcessor
from application.files.ports import UnreadableImageError
bomb = sys.stdin.buffer.read()
try:
    asyncio.run(PillowImageProcessor().thumbnail(bomb, max_edge=512, max_pixels=40_000_000))
except UnreadableImageError:
    status = Path("/proc/self/status").read_text()
    print(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1])
"""
"""Prints the process's peak resident memory in KiB. VmHWM, not getrusage's ru_maxrss: Linux
carries ru_maxrss over from the parent across fork and exec, so it would report pytest's."""


def test_refusing_a_bomb_never_allocates_its_pixels() -> None:
    """In a process of its own, whose peak memory is this refusal's alone.

    Pillow allocates pixels outside Python's allocator, where tracemalloc does not look.
    Decoding the bomb would take 400 MB: a byte per pixel.
    """
    refused = subprocess.run(
        [sys.executable, "-c", REFUSE_A_BOMB],
        input=png_bomb(20_000, 20_000),
        capture_output=True,
        check=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )

    peak_bytes = int(refused.stdout) * 1024
    assert peak_bytes < 150 * 1024 * 1024


def jpeg_cut_in_half() -> bytes:
    noise = random.Random(7).randbytes(256 * 256 * 3)
    photo = encoded(Image.frombytes("RGB", (256, 256), noise), "JPEG", quality=90)
    return photo[: len(photo) // 2]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        random.Random(3).randbytes(4096),
        jpeg_cut_in_half(),
        SVG,
        b"just some text, not an image\n",
        encoded(Image.new("RGB", (10, 10), RED), "BMP"),
    ],
    ids=["empty", "garbage", "truncated-jpeg", "svg", "text", "bmp-not-accepted"],
)
async def test_what_is_not_an_accepted_image_is_unreadable(
    processor: PillowImageProcessor, data: bytes
) -> None:
    with pytest.raises(UnreadableImageError, match="not a readable"):
        await processor.thumbnail(data, max_edge=64, max_pixels=ROOMY)
