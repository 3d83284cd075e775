"""A file's bytes as HTTP serves them: validators, one range, and how a browser shows them.

- ``ETag`` is the download's own, strong and quoted; ``If-None-Match`` naming it (or
  ``*``), weakly compared as RFC 9110 says, gets 304 with no body.
- ``Range`` is honoured for a single range of bytes (``a-b``, ``a-``, ``-n``): 206 with
  ``Content-Range``, or 416 with ``Content-Range: bytes */<size>`` when it starts past the
  end. Several ranges, another unit or a header that does not parse get the whole file, as
  RFC 9110 lets a server ignore a ``Range`` it does not serve.
- ``Content-Disposition`` is ``inline`` only for the raster images a browser shows as
  such, ``attachment`` for anything else, with an ASCII ``filename`` and the name itself
  as RFC 5987's ``filename*``.
- A thumbnail anyone may read is public (``max-age=300``); anything else, originals
  included, which only their owner reads, is ``private, no-cache``: a browser may keep it
  but asks each time, with its ETag, and no shared cache keeps it.
- Text is served as UTF-8, which the upload checked it is (Litestar names the charset of
  every ``text/`` type).
- When storage serves the bytes itself, the answer is a 307 to its short-lived URL, which
  no cache keeps.
"""

import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Any, Final
from urllib.parse import quote

from litestar import Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Stream
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_206_PARTIAL_CONTENT,
    HTTP_304_NOT_MODIFIED,
    HTTP_307_TEMPORARY_REDIRECT,
    HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
)

from application.files.errors import StoredFileNotFoundError
from application.files.ports import ByteRange, ObjectMissingError
from application.files.read_file import FileDownload
from application.files.views import FileView
from domain.files.policy import IMAGE_TYPES
from domain.files.values import FilePurpose

DOWNLOAD_POLICY: Final = "default-src 'none'; frame-ancestors 'none'; sandbox"
"""A file opened as a page can load and run nothing, even as its own origin."""
PUBLIC_CACHE: Final = "public, max-age=300"
PRIVATE_CACHE: Final = "private, no-cache"
_SINGLE_RANGE = re.compile(r"bytes=(?:([0-9]{1,18})-([0-9]{0,18})|-([0-9]{1,18}))")
_RFC5987_SAFE = "!#$&+-.^_`|~"


class RangeNotSatisfiableError(HTTPException):
    """The range asked for starts past the end of the bytes."""

    status_code = HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE

    def __init__(self, size: int) -> None:
        super().__init__(
            detail=f"starts past the end of the {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one range of `size` bytes that `header` asks for; None for the whole file."""
    if header is None:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        if int(suffix) == 0:
            raise RangeNotSatisfiableError(size)
        return ByteRange(max(size - int(suffix), 0), size - 1)
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiableError(size)
    return ByteRange(start, end)


def quoted(etag: str) -> str:
    """The ETag as a header carries it: a strong validator, in quotes."""
    return f'"{etag}"'


def matches_any(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names `etag`, or is ``*``; ``W/`` is ignored (weak comparison)."""
    if if_none_match is None:
        return False
    wanted = quoted(etag)
    for candidate in if_none_match.split(","):
        tag = candidate.strip().removeprefix("W/")
        if tag in {"*", wanted}:
            return True
    return False


def content_disposition(content_type: str, name: str) -> str:
    """``inline`` for a raster image, ``attachment`` otherwise, naming the file twice."""
    kind = "inline" if content_type in IMAGE_TYPES else "attachment"
    fallback = "".join(
        "_" if not char.isascii() else char
        for char in unicodedata.normalize("NFC", name)
        if char not in '"\\' and char.isprintable()
    ).strip()
    return (
        f'{kind}; filename="{fallback or "file"}"; '
        f"filename*=UTF-8''{quote(name, safe=_RFC5987_SAFE)}"
    )


def is_public(view: FileView) -> bool:
    """Whether anyone may read the file's thumbnail: an avatar, or an image shown with an article.

    Its original only its owner reads, so a shared cache must never keep that.
    """
    return view.purpose == FilePurpose.AVATAR.value or view.article_id is not None


async def download_response(
    download: FileDownload,
    *,
    thumbnail: bool,
    range_header: str | None,
    if_none_match: str | None,
) -> Response[Any]:
    """The answer to a GET of `download`: its bytes, a range of them, 304, or a redirect.

    `thumbnail` says which variant it is: only a thumbnail may be public.
    """
    if download.redirect_url is not None:
        return Redirect(
            path=download.redirect_url,
            status_code=HTTP_307_TEMPORARY_REDIRECT,
            headers={"Cache-Control": "no-store"},
        )
    headers = {
        "ETag": quoted(download.etag),
        "Cache-Control": PUBLIC_CACHE if thumbnail and is_public(download.file) else PRIVATE_CACHE,
    }
    if matches_any(if_none_match, download.etag):
        return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    byte_range = requested_range(range_header, download.size)
    headers |= {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(download.content_type, download.name),
    }
    status, length = HTTP_200_OK, download.size
    if byte_range is not None:
        status, length = HTTP_206_PARTIAL_CONTENT, byte_range.length
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{download.size}"
    headers["Content-Length"] = str(length)
    return Stream(
        content=await _opened(download, byte_range),
        status_code=status,
        media_type=download.content_type,
        headers=headers,
    )


async def _opened(download: FileDownload, byte_range: ByteRange | None) -> AsyncIterator[bytes]:
    """The bytes, with the first chunk read now.

    So an object gone since it was found is a 404 before the answer starts, not a broken one.
    """
    chunks = download.open(byte_range)
    try:
        first = await anext(chunks, b"")
    except ObjectMissingError:
        raise StoredFileNotFoundError from None

    async def rest() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()
