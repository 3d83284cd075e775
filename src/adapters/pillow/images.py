"""The `ImageProcessor` port on Pillow: WebP thumbnails, made in worker threads."""

import asyncio
import struct
import warnings
from io import BytesIO

from PIL import Image, ImageOps

from application.files.ports import ImageProcessor, UnreadableImageError

ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
WEBP_QUALITY = 80
_BROKEN_IMAGE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    NotImplementedError,
    OverflowError,
    struct.error,
)
"""What Pillow raises on bytes it cannot decode (its own fuzzers expect the same)."""
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)

_RGB_PROFILE = b"RGB "
_SIXTEEN_BIT_TO_EIGHT = 1 / 256


class PillowImageProcessor(ImageProcessor):
    """The `ImageProcessor` port: PNG, JPEG, GIF and WebP in, a WebP thumbnail out.

    The image's size is read from its header and checked against `max_pixels` before a
    pixel is decoded, so a decompression bomb costs a header read. At most
    `max_concurrency` images are decoded at once, each in a worker thread: a decode holds
    up to `max_pixels` times four bytes while it runs.

    The thumbnail is upright (the EXIF orientation is applied to the pixels), in RGB or
    RGBA, made from the first frame of an animation, and carries no EXIF or XMP. The ICC
    profile is kept when it describes RGB, so colours stay as the camera meant them.
    """

    def __init__(self, *, max_concurrency: int = 2) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._decoding = asyncio.Semaphore(max_concurrency)

    async def thumbnail(self, image: bytes, *, max_edge: int, max_pixels: int) -> bytes:
        """A WebP at most `max_edge` on its longer side; a smaller image keeps its size."""
        async with self._decoding:
            return await asyncio.to_thread(
                make_thumbnail, image, max_edge=max_edge, max_pixels=max_pixels
            )


def make_thumbnail(image: bytes, *, max_edge: int, max_pixels: int) -> bytes:
    """`PillowImageProcessor.thumbnail`, in the calling thread.

    Pillow's own bomb limit (`Image.MAX_IMAGE_PIXELS`) applies on top of `max_pixels`: its
    warning is raised as an error here. `warnings.catch_warnings` swaps the process-wide
    filter list, so a thread racing this one may see that warning as an error too, or this
    call see it as a mere warning; either way no image over `max_pixels` is decoded.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _thumbnail(image, max_edge=max_edge, max_pixels=max_pixels)
        except _BOMB_ERRORS as error:
            raise UnreadableImageError("has more pixels than are decoded safely") from error
        except _BROKEN_IMAGE_ERRORS as error:
            raise UnreadableImageError("is not a readable PNG, JPEG, GIF or WebP image") from error


def _thumbnail(image: bytes, *, max_edge: int, max_pixels: int) -> bytes:
    with Image.open(BytesIO(image), formats=ACCEPTED_FORMATS) as opened:
        width, height = opened.size
        if width * height > max_pixels:
            raise UnreadableImageError(
                f"is {width}x{height} pixels, more than the {max_pixels:,} allowed"
            )
        opened.draft(None, (2 * max_edge, 2 * max_edge))
        profile = opened.info.get("icc_profile")
        small = _rgb(opened)
        small.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
        upright = ImageOps.exif_transpose(small)
    written = BytesIO()
    upright.save(
        written,
        "WEBP",
        quality=WEBP_QUALITY,
        exif=b"",
        xmp=b"",
        icc_profile=profile if _describes_rgb(profile) else None,
    )
    thumbnail = written.getvalue()
    _check_no_metadata(thumbnail)
    return thumbnail


def _rgb(image: Image.Image) -> Image.Image:
    """The image in RGB, or RGBA where it has transparency.

    Converted before resizing: Pillow resizes palette images with the nearest pixel only.
    Sixteen-bit greyscale is scaled down to eight bits first, which Pillow would clip.
    """
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode.startswith("I"):
        image = image.convert("I").point(lambda value: value * _SIXTEEN_BIT_TO_EIGHT).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _describes_rgb(profile: object) -> bool:
    return isinstance(profile, bytes) and profile[16:20] == _RGB_PROFILE


def _check_no_metadata(thumbnail: bytes) -> None:
    """Refuse to hand out a thumbnail Pillow wrote metadata into, should a release start to."""
    with Image.open(BytesIO(thumbnail), formats=["WEBP"]) as written:
        if "exif" in written.info or "xmp" in written.info or written.getexif():
            raise RuntimeError("Pillow wrote EXIF or XMP into a WebP thumbnail")
