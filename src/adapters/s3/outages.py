"""How the S3 adapter reports a service that cannot be reached, fails, or refuses."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from loguru import logger

from adapters.system.outage_log import OutageLog
from application.common.errors import DependencyUnavailableError
from application.files.ports import FILE_STORAGE

LINK_ERRORS: Final = (BotocoreConnectionError, HTTPClientError, aiohttp.ClientError, OSError)
"""What a request raises when the service cannot be reached or stops answering.

botocore's `ConnectionError` covers refused connections, connect timeouts and closed
connections; `HTTPClientError` read timeouts and broken response streams; aiohttp's and the
socket's own errors are what a body read can still raise. `OSError` covers `TimeoutError`.
"""
MISSING_BUCKET_CODES: Final = frozenset({"404", "NoSuchBucket", "NotFound"})


class S3Outages:
    """One bucket's outages, each logged once.

    A refusal (a missing bucket, wrong credentials) is logged at ERROR with a hint, since
    no retry mends it.
    """

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket
        self._outage = OutageLog("file storage", what_waits="file uploads and downloads answer 503")
        self._refusal_logged = False

    @contextmanager
    def reported(self) -> Iterator[None]:
        """Turn an unreachable, failing or refusing service into `DependencyUnavailableError`.

        Credentials that cannot be found or fetched (a role's endpoint down) count as an
        outage too: every botocore error does.

        The answers a caller gives a meaning to (a missing key, an invalid range) are
        handled inside the block and never reach here; any other 4xx is a refusal.
        """
        try:
            yield
        except ClientError as exc:
            if http_status(exc) < 500:
                self._refused(exc)
            else:
                self._outage.down(exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field=FILE_STORAGE
            ) from exc
        except (*LINK_ERRORS, BotoCoreError) as exc:
            self._outage.down(exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field=FILE_STORAGE
            ) from exc
        self._refusal_logged = False
        self._outage.up()

    def _refused(self, exc: ClientError) -> None:
        """Record a refusal as an outage, and log the first refusal of an outage at ERROR.

        The refusal's flag is not the outage's: a refusal met in an outage that began as a
        connection error (the service came back to a bucket that is gone) must still reach
        the operator, with its hint.
        """
        code = error_code(exc)
        if exc.operation_name == "HeadBucket" and code in MISSING_BUCKET_CODES:
            code = "NoSuchBucket"  # what S3 calls it where an answer has a body to say so
        error: Any = exc.response.get("Error", {})
        if not self._refusal_logged:
            self._refusal_logged = True
            logger.error(
                "file storage: S3 refused {} on bucket {} ({}: {}); check S3_BUCKET and the "
                "credentials",
                exc.operation_name,
                self._bucket,
                code,
                error.get("Message", ""),
            )
        self._outage.down(f"S3 refused {exc.operation_name} on bucket {self._bucket}: {code}")


def error_code(exc: ClientError) -> str:
    """The S3 error code of a refusal (``NoSuchKey``), or "" when the answer had none."""
    error: Any = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def http_status(exc: ClientError) -> int:
    """The HTTP status S3 answered with; 0 when it is unknown."""
    metadata: Any = exc.response.get("ResponseMetadata", {})
    return int(metadata.get("HTTPStatusCode", 0))
