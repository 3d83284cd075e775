"""The rules a valid configuration keeps beyond types: production, pairings, addresses, links.

Each `check_*` raises `ConfigurationError` naming the first variable that breaks a rule;
docs/configuration.md ("Rules beyond types") states them for operators.
"""

import re
from urllib.parse import urlsplit

from entrypoints.config.errors import ConfigurationError, first_line
from entrypoints.config.settings import Settings
from entrypoints.config.settings.observability import MIN_METRICS_TOKEN_BYTES

MIN_JWT_SECRET_BYTES = 32
_MIN_SECRET_BYTES_BY_ALGORITHM = {"HS256": 32, "HS384": 48, "HS512": 64}
"""RFC 7518 section 3.2: an HMAC key at least as long as the hash's output."""
MIN_AUDIT_KEY_BYTES = 32
"""An HMAC-SHA256 key as long as the hash: what signs the audit chain's checkpoints."""
S3_LARGEST_UPLOAD_BYTES = 10_000 * 8 * 1_048_576
"""S3's 10,000 parts per multipart upload, at the S3 adapter's 8 MiB parts (78 GiB)."""
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


def check_production(settings: Settings) -> None:
    secret = settings.auth.jwt_secret
    algorithm = settings.auth.jwt_algorithm
    minimum = _MIN_SECRET_BYTES_BY_ALGORITHM.get(algorithm, MIN_JWT_SECRET_BYTES)
    if secret is not None and len(secret.encode()) < minimum:
        raise ConfigurationError(
            "JWT_SECRET",
            f"must be at least {minimum} bytes for {algorithm}, got {len(secret.encode())}",
        )
    if settings.is_production and secret is None:
        raise ConfigurationError(
            "JWT_SECRET",
            f"must be set to a random value of at least {MIN_JWT_SECRET_BYTES} bytes "
            "when APP_ENV=production",
        )
    audit_key = settings.audit.signing_key
    if audit_key is not None and len(audit_key.encode()) < MIN_AUDIT_KEY_BYTES:
        raise ConfigurationError(
            "AUDIT_SIGNING_KEY",
            f"must be at least {MIN_AUDIT_KEY_BYTES} bytes, got {len(audit_key.encode())}",
        )
    if settings.is_production and audit_key is None:
        raise ConfigurationError(
            "AUDIT_SIGNING_KEY",
            f"must be set to a random value of at least {MIN_AUDIT_KEY_BYTES} bytes, kept "
            "away from the database, when APP_ENV=production",
        )
    if settings.is_production and settings.database.url is None:
        raise ConfigurationError(
            "DATABASE_URL",
            "must be set when APP_ENV=production (the embedded database is for development)",
        )
    if (
        settings.is_production
        and settings.app.server == "granian"
        and settings.websocket.max_unauthenticated > 0
    ):
        raise ConfigurationError(
            "WS_MAX_UNAUTHENTICATED",
            "must be 0 under APP_SERVER=granian when APP_ENV=production: granian reads a "
            "whole WebSocket frame (up to 16 MiB) before the app can refuse it, so each socket "
            "waiting for its auth message could hold 16 MiB; open a waiting room under "
            "APP_SERVER=uvicorn, which refuses an oversized frame from its header",
        )
    if settings.is_production and not _is_https_url(settings.app.public_url):
        raise ConfigurationError(
            "APP_PUBLIC_URL",
            "must be set to the https:// address users reach when APP_ENV=production "
            f"(emailed links start there); got {settings.app.public_url!r}",
        )


def _is_https_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme == "https" and bool(parts.hostname)
    except ValueError:
        return False


def check_pairings(settings: Settings) -> None:
    """Settings that only make sense together."""
    mail = settings.mail
    if (mail.smtp_username is None) != (mail.smtp_password is None):
        raise ConfigurationError("SMTP_USERNAME", "set SMTP_USERNAME and SMTP_PASSWORD together")
    sms = settings.sms
    sms_parts = (sms.base_url, sms.account_sid, sms.auth_token, sms.sender)
    if any(part is not None for part in sms_parts) and None in sms_parts:
        raise ConfigurationError(
            "SMS_BASE_URL",
            "set SMS_BASE_URL, SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM together",
        )
    if settings.push.vapid_private_key is not None:
        from adapters.webpush.sender import vapid_public_key  # noqa: PLC0415 - cryptography, when needed

        try:
            vapid_public_key(settings.push.vapid_private_key)
        except ValueError:
            raise ConfigurationError(
                "PUSH_VAPID_PRIVATE_KEY",
                "must be a base64url P-256 private key; `portico push keys` makes one",
            ) from None
    if settings.queue.backend == "redis" and settings.cache.redis_url is None:
        raise ConfigurationError("JOBS_QUEUE", "`redis` needs REDIS_URL")
    if settings.outbox.bus == "redis-streams" and settings.cache.redis_url is None:
        raise ConfigurationError("EVENT_BUS", "`redis-streams` needs REDIS_URL")
    _check_storage(settings)
    _check_metrics(settings)


def _check_metrics(settings: Settings) -> None:
    metrics = settings.metrics
    token = metrics.token or ""
    if metrics.mode == "token" and len(token.encode()) < MIN_METRICS_TOKEN_BYTES:
        raise ConfigurationError(
            "METRICS_TOKEN",
            f"`METRICS_MODE=token` needs a token of at least {MIN_METRICS_TOKEN_BYTES} bytes, "
            f"got {len(token.encode())}",
        )
    if metrics.mode == "port" and metrics.port in {settings.app.port, metrics.worker_port}:
        raise ConfigurationError(
            "METRICS_PORT", "must differ from APP_PORT and METRICS_WORKER_PORT"
        )


def _check_storage(settings: Settings) -> None:
    connections = settings.database.pool_size + settings.database.max_overflow
    if settings.app.max_streamed_bodies >= connections:
        raise ConfigurationError(
            "APP_MAX_STREAMED_BODIES",
            f"must be below DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW ({connections}): each "
            "upload holds a connection while it streams, and other requests need some",
        )
    storage = settings.storage
    if storage.backend == "s3" and storage.s3_bucket is None:
        raise ConfigurationError("S3_BUCKET", "must be set when STORAGE_BACKEND=s3")
    if storage.backend == "s3" and storage.attachment_max_bytes > S3_LARGEST_UPLOAD_BYTES:
        raise ConfigurationError(
            "FILES_ATTACHMENT_MAX_BYTES",
            f"must be at most {S3_LARGEST_UPLOAD_BYTES} when STORAGE_BACKEND=s3: a multipart "
            "upload takes at most 10,000 parts, of 8 MiB here",
        )
    if (storage.s3_access_key_id is None) != (storage.s3_secret_access_key is None):
        raise ConfigurationError(
            "S3_ACCESS_KEY_ID", "set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together"
        )
    for variable, url in (
        ("S3_ENDPOINT_URL", storage.s3_endpoint_url),
        ("S3_PUBLIC_ENDPOINT_URL", storage.s3_public_endpoint_url),
    ):
        if url is not None and urlsplit(url).scheme not in {"http", "https"}:
            raise ConfigurationError(variable, f"must be an http(s):// address; got {url!r}")


def check_addresses(settings: Settings) -> None:
    if settings.app.trusted_proxies is not None:
        from entrypoints.http.client_address import parse_networks  # noqa: PLC0415 - no Litestar for the CLI

        try:
            parse_networks(settings.app.trusted_proxies)
        except ValueError as exc:
            raise ConfigurationError("TRUSTED_PROXIES", first_line(exc)) from None
    if settings.database.url is not None:
        from adapters.sqlalchemy.engine import to_psycopg_url  # noqa: PLC0415 - SQLAlchemy, when needed

        try:
            to_psycopg_url(settings.database.url)
        except Exception as exc:  # noqa: BLE001 - any parse failure is a configuration error
            raise ConfigurationError("DATABASE_URL", first_line(exc)) from None
    if settings.cache.redis_url is not None:
        scheme = urlsplit(settings.cache.redis_url).scheme
        if scheme not in _REDIS_SCHEMES:
            raise ConfigurationError(
                "REDIS_URL", f"unsupported scheme {scheme!r}; use redis://, rediss:// or unix://"
            )
        from redis.asyncio.connection import parse_url as parse_redis_url  # noqa: PLC0415

        try:
            # parse_url is undocumented in redis-py: tests/unit/test_reliances_redis.py
            parse_redis_url(settings.cache.redis_url)
        except ValueError as exc:
            raise ConfigurationError("REDIS_URL", first_line(exc)) from None
    if settings.kafka.bootstrap_servers is not None:
        for server in settings.kafka.bootstrap_servers.split(","):
            if not _HOST_PORT.match(server.strip()):
                raise ConfigurationError(
                    "KAFKA_BOOTSTRAP_SERVERS", f"expected host:port, got {server.strip()!r}"
                )


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def check_links(settings: Settings) -> None:
    """Check the link settings: a frontend's address, and each pattern.

    LINKS_FRONTEND_URL is an http(s) address (https in production) with no query or
    fragment; each LINKS_*_PATH starts with `/`, `?` or `#` and holds its one placeholder.
    """
    links = settings.links
    url = links.frontend_url
    if url is not None:
        try:
            parts = urlsplit(url)
            well_formed = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:
            well_formed = False
        if not well_formed or parts.query or parts.fragment or not _is_plain(url):
            raise ConfigurationError(
                "LINKS_FRONTEND_URL", f"expected http(s)://host[/path]; got {url!r}"
            )
        if settings.is_production and not _is_https_url(url):
            raise ConfigurationError(
                "LINKS_FRONTEND_URL", f"must be https:// when APP_ENV=production; got {url!r}"
            )
    for variable, (pattern, placeholder) in links.path_patterns().items():
        found = _PLACEHOLDER.findall(pattern)
        expected = [placeholder] if placeholder else []
        if not pattern.startswith(("/", "?", "#")) or found != expected or not _is_plain(pattern):
            wanted = f"holding {placeholder} once" if placeholder else "with no placeholder"
            raise ConfigurationError(
                variable, f"expected a path starting with /, ? or #, {wanted}; got {pattern!r}"
            )


def _is_plain(text: str) -> bool:
    """Printable, with no whitespace: safe in a Location header and in a mail."""
    return text.isprintable() and not any(character.isspace() for character in text)
