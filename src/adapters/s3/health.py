"""Probes the S3 bucket with a real round trip."""

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from application.health.ports import HealthProbe

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client


class S3StorageProbe(HealthProbe):
    """Reports file storage up when HeadBucket answers 200 for the configured bucket.

    A missing bucket and refused credentials count as down (a ClientError), since every
    upload and download would fail. The probe has a client of its own: one attempt, with
    `timeout_seconds` to connect and to wait for the answer, where the storage's client
    retries with longer waits. It is made on the first check and closed by `close`.
    """

    dependency = "file_storage"

    def __init__(
        self,
        *,
        bucket: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout_seconds: float,
    ) -> None:
        """Configure as `S3FileStorage` is configured; connect nothing yet."""
        self._bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "auto" if endpoint_url is None else "path"},
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        self._opening = asyncio.Lock()
        self._exit_stack: AsyncExitStack | None = None
        self._s3: S3Client | None = None

    async def check(self) -> None:
        """Send HeadBucket; raise when the service does not answer or refuses."""
        s3 = await self._client()
        await s3.head_bucket(Bucket=self._bucket)

    async def close(self) -> None:
        """Close the client; a later check opens a new one."""
        exit_stack, self._exit_stack, self._s3 = self._exit_stack, None, None
        if exit_stack is not None:
            await exit_stack.aclose()

    async def _client(self) -> "S3Client":
        async with self._opening:
            if self._s3 is None:
                exit_stack = AsyncExitStack()
                self._s3 = await exit_stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        aws_access_key_id=self._access_key_id,
                        aws_secret_access_key=self._secret_access_key,
                        config=self._config,
                    )
                )
                self._exit_stack = exit_stack
            return self._s3
