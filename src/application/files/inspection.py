"""Passing an upload's chunks on to storage while the domain inspects them."""

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator

from domain.files.content import ContentInspector
from domain.files.errors import UploadMismatchError
from domain.files.values import Sha256Digest


async def _read_ahead(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Yield the chunks, asking for the next one before the current one is handed on.

    The client's next bytes then arrive while this one is inspected and stored. A request
    still in flight when the consumer stops is cancelled and waited for.
    """
    iterator = aiter(chunks)
    upcoming = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            try:
                chunk = await upcoming
            except StopAsyncIteration:
                return
            upcoming = asyncio.ensure_future(anext(iterator))
            yield chunk
    finally:
        if not upcoming.done():
            upcoming.cancel()
        with contextlib.suppress(BaseException):
            await upcoming


async def inspected(
    chunks: AsyncIterable[bytes],
    inspector: ContentInspector,
    *,
    expected: Sha256Digest | None = None,
) -> AsyncIterator[bytes]:
    """Yield each chunk once `inspector` accepted it; its first refusal ends the stream.

    Storage sees the refusal as an error from its source, and keeps nothing. With
    `expected`, the whole file is also checked, and must have that digest, before the
    stream ends: storage then keeps only the bytes that were announced.
    """
    async for chunk in _read_ahead(chunks):
        inspector.feed(chunk)
        yield chunk
    if expected is not None and inspector.finish().sha256 != expected:
        raise UploadMismatchError("the uploaded bytes' SHA-256 is not the one announced")
