"""An S3-compatible server for tests and benchmarks: moto's, which checks presigned URLs here.

moto (5.2) accepts a presigned request whatever its signature or age (its S3 responses never
look at ``X-Amz-Signature`` or ``X-Amz-Expires``), so a test against it could not tell a URL
that pins a length and a type from one that does not. The server here puts a WSGI layer in
front of moto's application that checks a presigned request (SigV4 in the query string) as
S3 does, from the AWS specification rather than from the SDK that signed it: the signature
over the method, the path, the query and the headers named in ``X-Amz-SignedHeaders``, then
the expiry. A failed check is answered 403 with S3's error codes. Requests signed in the
``Authorization`` header go to moto unchecked, which accepts any credentials.

moto does not check a body against its ``x-amz-checksum-sha256`` header either: it stores
other bytes. The layer does, for any request carrying the header, as the S3 documentation
on additional checksums ("Checking object integrity") says S3 does: it reads the body,
answers 400 ``BadDigest`` when its SHA-256 is not the header's (base64 of the digest's 32
bytes) and 400 ``InvalidRequest`` when the header is not such a value, and otherwise hands
the same bytes on to moto. A body sent ``aws-chunked`` (a checksum in a trailer) is left to
moto, which decodes it.
"""

import base64
import binascii
import hashlib
import hmac
import io
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

ACCESS_KEY_ID: Final = "portico-test-key"
SECRET_ACCESS_KEY: Final = "portico-test-secret"
"""The only credentials whose presigned URLs the server accepts."""
REGION: Final = "us-east-1"

_ALGORITHM: Final = "AWS4-HMAC-SHA256"
_AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_MAX_EXPIRES_SECONDS: Final = 7 * 24 * 3600
_CHECKSUM_SHA256_KEY: Final = "HTTP_X_AMZ_CHECKSUM_SHA256"
_READ_BYTES: Final = 65536


@contextmanager
def s3_server() -> Iterator[str]:
    """Yield the endpoint URL of a fresh server on a free port of 127.0.0.1; stopped after.

    The server runs in a thread of this process. moto keeps its buckets in module state, so
    servers started one after the other in a process share them: use fresh bucket names.
    """
    # moto takes most of a second to import: only the sessions that use S3 pay for it.
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    application = PresignedRequestCheck(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", 0, application, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class PresignedRequestCheck:
    """WSGI middleware: refuse a request S3 would refuse and moto would not; pass the rest on.

    A presigned request with a bad signature or past its expiry is answered 403; then a body
    whose SHA-256 is not its ``x-amz-checksum-sha256`` header, 400, as S3 checks the
    signature before it reads the body.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer S3's refusal, or let moto answer."""
        if "X-Amz-Signature=" in environ.get("QUERY_STRING", ""):
            refusal = presigned_refusal(environ, now=datetime.now(UTC))
            if refusal is not None:
                _drain_body(environ)
                return _error(start_response, "403 Forbidden", *refusal)
        if _CHECKSUM_SHA256_KEY in environ and not _is_aws_chunked(environ):
            body = _read_body(environ)
            refusal = checksum_refusal(str(environ[_CHECKSUM_SHA256_KEY]), body)
            if refusal is not None:
                return _error(start_response, "400 Bad Request", *refusal)
            _replace_body(environ, body)
        return self._app(environ, start_response)


def _error(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


def checksum_refusal(header: str, body: bytes) -> tuple[str, str] | None:
    """S3's error code and message for a body that does not match its SHA-256 header."""
    try:
        announced = base64.b64decode(header.strip(), validate=True)
    except binascii.Error:
        announced = b""
    if len(announced) != hashlib.sha256().digest_size:
        return "InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid."
    if not hmac.compare_digest(announced, hashlib.sha256(body).digest()):
        return "BadDigest", "The SHA256 you specified did not match the calculated checksum."
    return None


def presigned_refusal(environ: WSGIEnvironment, *, now: datetime) -> tuple[str, str] | None:
    """S3's error code and message for a presigned request it would refuse; None if valid."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params = dict(query)
    try:
        access_key_id, date, region, service, terminator = params["X-Amz-Credential"].split("/")
        amz_date = params["X-Amz-Date"]
        signed_at = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        expires_seconds = int(params["X-Amz-Expires"])
        signed_header_names = sorted(params["X-Amz-SignedHeaders"].split(";"))
        signature = params["X-Amz-Signature"]
    except (KeyError, ValueError):
        return "AuthorizationQueryParametersError", "the presigned query is incomplete"
    canonical_request = "\n".join(
        [
            environ["REQUEST_METHOD"],
            _raw_path(environ),
            _canonical_query(query),
            "".join(f"{name}:{_header_value(environ, name)}\n" for name in signed_header_names),
            ";".join(signed_header_names),
            "UNSIGNED-PAYLOAD",
        ]
    )
    checks = [
        (
            params.get("X-Amz-Algorithm") == _ALGORITHM
            and (service, terminator) == ("s3", "aws4_request"),
            ("AuthorizationQueryParametersError", "not an S3 SigV4 presigned request"),
        ),
        (
            access_key_id == ACCESS_KEY_ID,
            ("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist."),
        ),
        (
            1 <= expires_seconds <= _MAX_EXPIRES_SECONDS,
            ("AuthorizationQueryParametersError", "X-Amz-Expires is out of range"),
        ),
        (
            hmac.compare_digest(
                _signature(canonical_request, amz_date=amz_date, date=date, region=region),
                signature,
            ),
            (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ),
        ),
        (
            now <= signed_at + timedelta(seconds=expires_seconds),
            ("AccessDenied", "Request has expired"),
        ),
    ]
    return next((refusal for passed, refusal in checks if not passed), None)


def _signature(canonical_request: str, *, amz_date: str, date: str, region: str) -> str:
    """SigV4: the canonical request's digest, signed with a key derived for the day and region."""
    string_to_sign = "\n".join(
        [
            _ALGORITHM,
            amz_date,
            f"{date}/{region}/s3/aws4_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{SECRET_ACCESS_KEY}".encode()
    for scope_part in (date, region, "s3", "aws4_request"):
        key = hmac.digest(key, scope_part.encode(), "sha256")
    return hmac.new(key, string_to_sign.encode(), "sha256").hexdigest()


def _raw_path(environ: WSGIEnvironment) -> str:
    """The path as the client sent it: S3 signs it without normalizing it."""
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw_uri:
        return str(raw_uri).split("?", 1)[0]
    return quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/~")


def _canonical_query(query: list[tuple[str, str]]) -> str:
    """Every parameter but the signature, URI-encoded, sorted by name then value."""
    encoded = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, value in query
        if name != "X-Amz-Signature"
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _header_value(environ: WSGIEnvironment, name: str) -> str:
    """A request header as SigV4 canonicalizes it: trimmed, inner runs of spaces made one."""
    if name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(str(value).split())


def _drain_body(environ: WSGIEnvironment) -> None:
    """Read the refused request's body, so the client is not cut off while it sends it."""
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_BYTES))
        if not chunk:
            return
        remaining -= len(chunk)


def _is_aws_chunked(environ: WSGIEnvironment) -> bool:
    return "aws-chunked" in str(environ.get("HTTP_CONTENT_ENCODING", "")).lower()


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The whole body: Content-Length bytes, or up to the end of a chunked one.

    A body cut short is returned as far as it came; its digest then does not match.
    """
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    received = bytearray()
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_BYTES))
        if not chunk:
            break
        received += chunk
        remaining -= len(chunk)
    return bytes(received)


def _replace_body(environ: WSGIEnvironment, body: bytes) -> None:
    """Give moto the body already read, as a stream of exactly its length.

    A chunked body is now a plain one: werkzeug, which dechunked it, must not again.
    """
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
