"""Files in an S3 bucket (AWS, or any S3-compatible service), through aiobotocore.

One class implements the one `FileStorage` port: its methods share the clients, the
multipart protocol and the outage reporting (`adapters.s3.outages`), so it stays whole
past the usual length rather than spread one port over several modules.
"""

import asyncio
import base64
import math
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar, cast
from urllib.parse import quote

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from loguru import logger

from adapters.s3.outages import MISSING_BUCKET_CODES, S3Outages, error_code
from application.files.ports import (
    ByteRange,
    FileStorage,
    ObjectMissingError,
    PresignedRequest,
    StoredObject,
)
from domain.files.values import Sha256Digest

if TYPE_CHECKING:
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

MIB: Final = 1024 * 1024
DEFAULT_PART_BYTES: Final = 8 * MIB
MIN_PART_BYTES: Final = 5 * MIB
"""S3 refuses a smaller part, except the last."""
MAX_PARTS: Final = 10_000
"""S3's limit on the parts of one upload: an object holds at most this many parts' bytes."""
READ_CHUNK_BYTES: Final = 64 * 1024
CHECKSUM_SHA256_HEADER: Final = "x-amz-checksum-sha256"
"""The header of a presigned PUT that pins the body's SHA-256, base64 of the digest's bytes."""

_Page = TypeVar("_Page")
_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})


class S3FileStorage(FileStorage):
    """The `FileStorage` port on an S3 bucket; clients may upload and download directly.

    - `put` streams: it buffers one part of the chunks (`part_size` bytes, plus at most
      one chunk) and sends it before reading on; sending costs about as much again (the
      joined part, and the HTTP client's copy): some 22 MiB of RSS per upload at 8 MiB
      parts (bench/s3_clients.py). An object that fits in one part is one PutObject; a
      larger one is a multipart upload, its parts sent one after the other, aborted when
      the chunks raise (a cancellation too), so no unfinished upload keeps parts in the
      bucket. An object holds at most `MAX_PARTS` parts, so `part_size` bounds its size.
    - Presigned URLs are signed for `public_endpoint_url`, the address clients reach the
      service at, which may differ from the one this process uses (`endpoint_url`).
    - A service that cannot be reached, times out or answers 5xx (after botocore's
      retries) raises `DependencyUnavailableError`; the outage is logged once, and its
      end once.
    - So does a refusal the adapter has no meaning for (no such bucket, access denied, an
      unknown key id, a bad signature: a 4xx other than a missing object): S3 answers,
      but not to this configuration, so every request fails alike until an operator
      changes it. It is logged once per outage at ERROR, with S3's code and the bucket.

    The aiobotocore clients are made on first use (loading botocore's S3 model, some tens
    of milliseconds, once) and closed by `close`.
    """

    def __init__(
        self,
        *,
        bucket: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = DEFAULT_PART_BYTES,
        timeout_seconds: float = 10.0,
        max_attempts: int = 3,
        max_connections: int = 32,
    ) -> None:
        """Configure; connect nothing yet.

        `endpoint_url` None means AWS in `region`; `public_endpoint_url` None means the
        same as `endpoint_url`. Keys None mean botocore's default chain (environment,
        profile, instance or task role). `timeout_seconds` bounds connecting and each
        wait for the service's answer; a request that fails to connect, times out or gets
        a 5xx is tried `max_attempts` times in all, with botocore's backoff between.
        """
        if part_size < MIN_PART_BYTES:
            raise ValueError(f"part_size must be at least {MIN_PART_BYTES} bytes (S3's minimum)")
        self._bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url
        self._public_endpoint_url = public_endpoint_url or endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._part_size = part_size
        self._config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "auto" if endpoint_url is None else "path"},
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=max_connections,
            # botocore 1.36 began adding CRC checksums to every upload by default; some
            # S3-compatible services refuse those requests.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._outages = S3Outages(bucket)
        self._opening = asyncio.Lock()
        self._exit_stack: AsyncExitStack | None = None
        self._s3: S3Client | None = None
        self._signer: S3Client | None = None

    @property
    def backend(self) -> str:
        """Always ``s3``."""
        return "s3"

    async def close(self) -> None:
        """Close the clients and their connections; a later call opens new ones."""
        exit_stack, self._exit_stack, self._s3, self._signer = self._exit_stack, None, None, None
        if exit_stack is not None:
            await exit_stack.aclose()

    async def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing; True if it was created.

        For development and tests, where the service starts empty. In production the
        bucket, its policy and its lifecycle rules are made by whoever runs the service.
        """
        s3 = await self._client()
        with self._outages.reported():
            try:
                await s3.head_bucket(Bucket=self._bucket)
            except ClientError as exc:
                if error_code(exc) not in MISSING_BUCKET_CODES:
                    raise
            else:
                return False
            try:
                if self._region == "us-east-1":
                    await s3.create_bucket(Bucket=self._bucket)
                else:
                    await s3.create_bucket(
                        Bucket=self._bucket,
                        CreateBucketConfiguration={
                            "LocationConstraint": cast("BucketLocationConstraintType", self._region)
                        },
                    )
            except ClientError as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise
                return False
        return True

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, content_type: str) -> int:
        """Stream the chunks to `key`, one part at a time; return how many bytes were stored."""
        s3 = await self._client()
        pending: list[bytes] = []
        pending_bytes = 0
        total = 0
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                pending.append(chunk)
                pending_bytes += len(chunk)
                total += len(chunk)
                if pending_bytes < self._part_size:
                    continue
                if upload_id is None:
                    upload_id = await self._start_multipart(s3, key, content_type)
                part = b"".join(pending)
                pending.clear()
                pending_bytes = 0
                parts.append(await self._upload_part(s3, key, upload_id, len(parts) + 1, part))
            rest = b"".join(pending)
            pending.clear()
            if upload_id is None:
                with self._outages.reported():
                    await s3.put_object(
                        Bucket=self._bucket, Key=key, Body=rest, ContentType=content_type
                    )
                return total
            if rest:
                parts.append(await self._upload_part(s3, key, upload_id, len(parts) + 1, rest))
            with self._outages.reported():
                await s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                await self._abort_multipart(s3, key, upload_id)
            raise
        return total

    async def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of at most 64 KiB.

        A range that starts past the end yields nothing; one that ends past it stops at
        the end, as S3 clamps it.
        """
        s3 = await self._client()
        with self._outages.reported():
            try:
                if byte_range is None:
                    response = await s3.get_object(Bucket=self._bucket, Key=key)
                else:
                    response = await s3.get_object(
                        Bucket=self._bucket,
                        Key=key,
                        Range=f"bytes={byte_range.start}-{byte_range.end}",
                    )
            except ClientError as exc:
                code = error_code(exc)
                if code in _MISSING_CODES:
                    raise ObjectMissingError(key) from exc
                if code == "InvalidRange":
                    return
                raise
        async with response["Body"] as body:
            while True:
                with self._outages.reported():
                    chunk = await body.read(READ_CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk

    async def stat(self, key: str) -> StoredObject | None:
        """HeadObject: size and last modification time."""
        s3 = await self._client()
        with self._outages.reported():
            try:
                head = await s3.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if error_code(exc) not in _MISSING_CODES:
                    raise
                # A HEAD's 404 has no body to tell a missing object from a missing bucket.
                await s3.head_bucket(Bucket=self._bucket)
                return None
        return StoredObject(key=key, size=head["ContentLength"], modified_at=head["LastModified"])

    async def delete(self, key: str) -> bool:
        """Look the object up, then delete it (S3's DeleteObject does not say if it existed)."""
        if await self.stat(key) is None:
            return False
        s3 = await self._client()
        with self._outages.reported():
            await s3.delete_object(Bucket=self._bucket, Key=key)
        return True

    async def objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        """ListObjectsV2, page after page of up to 1,000 keys, as the consumer reads on."""
        s3 = await self._client()
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix)
        async for page in self._each_page(pages):
            for item in page.get("Contents", []):
                yield StoredObject(
                    key=item["Key"], size=item["Size"], modified_at=item["LastModified"]
                )

    async def remove_abandoned_uploads(self, older_than: timedelta) -> int:
        """Abort the bucket's multipart uploads started more than `older_than` ago.

        `put` aborts its own upload when it fails; this clears those of a process that died
        mid-upload, or whose abort failed, where the bucket has no lifecycle rule for
        incomplete multipart uploads (AWS has one; not every S3-compatible service does).
        Started is the service's clock, compared with this machine's.
        """
        s3 = await self._client()
        started_before = datetime.now(UTC) - older_than
        removed = 0
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=self._bucket)
        async for page in self._each_page(pages):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] >= started_before:
                    continue
                with self._outages.reported():
                    try:
                        await s3.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    except ClientError as exc:
                        if error_code(exc) != "NoSuchUpload":
                            raise
                        continue
                removed += 1
        return removed

    async def presign_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: Sha256Digest,
        expires_in: timedelta,
    ) -> PresignedRequest | None:
        """A PUT with Content-Length, Content-Type and x-amz-checksum-sha256 signed.

        S3 refuses the request with any other length or type, or without the checksum
        header (403), a body whose SHA-256 is not `sha256` (400 BadDigest), and any
        request after `expires_in` (rounded up to whole seconds).
        """
        signer = await self._signing_client()
        seconds = _whole_seconds(expires_in)
        checksum = base64.b64encode(bytes.fromhex(sha256.value)).decode("ascii")
        signed_at = datetime.now(UTC)
        with self._outages.reported():
            url = await signer.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ContentLength": size,
                    "ContentType": content_type,
                    "ChecksumSHA256": checksum,
                },
                ExpiresIn=seconds,
                HttpMethod="PUT",
            )
        return PresignedRequest(
            url=url,
            method="PUT",
            headers={
                "Content-Length": str(size),
                "Content-Type": content_type,
                CHECKSUM_SHA256_HEADER: checksum,
            },
            expires_at=signed_at + timedelta(seconds=seconds),
        )

    async def presign_get(
        self, key: str, *, content_type: str, download_name: str, expires_in: timedelta
    ) -> str | None:
        """A GET whose answer S3 gives `content_type` and an attachment disposition.

        The name goes in RFC 6266's ``filename*`` (UTF-8, percent-encoded), which every
        current browser reads, so any name is safe in the header.
        """
        signer = await self._signing_client()
        disposition = f"attachment; filename*=UTF-8''{quote(download_name, safe='')}"
        with self._outages.reported():
            url: str = await signer.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition,
                },
                ExpiresIn=_whole_seconds(expires_in),
                HttpMethod="GET",
            )
        return url

    async def _start_multipart(self, s3: "S3Client", key: str, content_type: str) -> str:
        with self._outages.reported():
            created = await s3.create_multipart_upload(
                Bucket=self._bucket, Key=key, ContentType=content_type
            )
        return created["UploadId"]

    async def _upload_part(
        self, s3: "S3Client", key: str, upload_id: str, number: int, data: bytes
    ) -> "CompletedPartTypeDef":
        if number > MAX_PARTS:
            raise ValueError(
                f"the object exceeds {MAX_PARTS} parts of {self._part_size} bytes; "
                "raise the part size"
            )
        with self._outages.reported():
            sent = await s3.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        return {"ETag": sent["ETag"], "PartNumber": number}

    async def _abort_multipart(self, s3: "S3Client", key: str, upload_id: str) -> None:
        """Abort the upload, even when the caller's task is being cancelled.

        The abort runs in a task of its own, shielded: a second cancellation stops the
        wait, not the abort. One that fails is logged with the upload's id, for the
        bucket's lifecycle rule for incomplete uploads, or an operator, to clear.
        """
        abort = asyncio.ensure_future(
            s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        )
        try:
            await asyncio.shield(abort)
        except (BotoCoreError, ClientError, aiohttp.ClientError, OSError) as exc:
            logger.warning(
                "file storage: could not abort multipart upload {} of {} ({}: {}); its "
                "parts stay in the bucket until a lifecycle rule clears them",
                upload_id,
                key,
                type(exc).__name__,
                exc,
            )

    async def _each_page(self, pages: AsyncIterable[_Page]) -> AsyncIterator[_Page]:
        """The pages of a listing, each request's failure reported as `_reported` does."""
        page_iterator = aiter(pages)
        while True:
            with self._outages.reported():
                try:
                    page = await anext(page_iterator)
                except StopAsyncIteration:
                    return
            yield page

    async def _client(self) -> "S3Client":
        """The client for requests, made on first use."""
        if self._s3 is None:
            await self._open()
        assert self._s3 is not None  # noqa: S101 - _open made it or raised
        return self._s3

    async def _signing_client(self) -> "S3Client":
        """The client that signs URLs for `public_endpoint_url`; it sends no request."""
        if self._signer is None:
            await self._open()
        assert self._signer is not None  # noqa: S101 - _open made it or raised
        return self._signer

    async def _open(self) -> None:
        async with self._opening:
            if self._s3 is not None:
                return
            exit_stack = AsyncExitStack()
            try:
                s3 = await exit_stack.enter_async_context(self._new_client(self._endpoint_url))
                signer = (
                    s3
                    if self._public_endpoint_url == self._endpoint_url
                    else await exit_stack.enter_async_context(
                        self._new_client(self._public_endpoint_url)
                    )
                )
            except BaseException:
                await exit_stack.aclose()
                raise
            self._exit_stack, self._s3, self._signer = exit_stack, s3, signer

    def _new_client(self, endpoint_url: str | None) -> "ClientCreatorContext[S3Client]":
        return get_session().create_client(
            "s3",
            region_name=self._region,
            endpoint_url=endpoint_url,
            aws_access_key_id=self._access_key_id,
            aws_secret_access_key=self._secret_access_key,
            config=self._config,
        )


def _whole_seconds(expires_in: timedelta) -> int:
    """S3 counts a presigned URL's life in whole seconds, at least one."""
    return max(1, math.ceil(expires_in.total_seconds()))
