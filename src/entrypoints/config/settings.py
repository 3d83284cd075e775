"""The settings, one frozen section per concern.

Each field names its environment variable in its metadata, so this module is the single
source of the configuration reference (``portico config show`` and docs/configuration.md).
Sections hold only what the code uses today and grow with the features that need them.

It is one module past the house's length on purpose: it is the configuration table, read
top to bottom beside docs/configuration.md, and each section is a flat list of declared
fields with no logic to separate. Parsing beyond types lives elsewhere (loader.py, cors.py).
"""

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta


def from_env(name: str, doc: str, *, secret: bool = False, **constraints: Any) -> Meta:
    """Bind a field to an environment variable, with a description and constraints."""
    return Meta(description=doc, extra={"env": name, "secret": secret}, **constraints)


Port = Annotated[int, Meta(ge=1, le=65535)]


class AppSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The process as a whole: environment, HTTP server, logging and limits."""

    env: Annotated[
        Literal["development", "test", "production"],
        from_env("APP_ENV", "Which rules apply: `production` demands real secrets and services."),
    ] = "development"
    name: Annotated[
        str, from_env("APP_NAME", "Service name, used in logs and database connection names.")
    ] = "portico"
    host: Annotated[str, from_env("APP_HOST", "Interface `portico serve` binds to.")] = "127.0.0.1"
    port: Annotated[Port, from_env("APP_PORT", "Port `portico serve` listens on.")] = 8000
    workers: Annotated[
        int, from_env("APP_WORKERS", "Server worker processes for `portico serve`.", ge=1, le=64)
    ] = 1
    server: Annotated[
        Literal["granian", "uvicorn"],
        from_env(
            "APP_SERVER",
            "`granian` (faster HTTP) or `uvicorn` (about 150 KB less per open WebSocket).",
        ),
    ] = "granian"
    max_connections: Annotated[
        int,
        from_env(
            "APP_MAX_CONNECTIONS",
            "Open connections each server worker holds; more wait in the listen backlog.",
            ge=64,
            le=1_000_000,
        ),
    ] = 8192
    header_read_timeout_seconds: Annotated[
        float,
        from_env(
            "APP_HEADER_READ_TIMEOUT_SECONDS",
            "A request's line and headers must arrive within this, or the connection is closed.",
            ge=1,
            le=300,
        ),
    ] = 5.0
    keepalive_timeout_seconds: Annotated[
        float,
        from_env(
            "APP_KEEPALIVE_TIMEOUT_SECONDS",
            "An idle keep-alive connection is closed after this.",
            ge=1,
            le=300,
        ),
    ] = 5.0
    log_level: Annotated[
        Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        from_env("LOG_LEVEL", "Lowest level written to the log."),
    ] = "INFO"
    log_format: Annotated[
        Literal["text", "json"],
        from_env("LOG_FORMAT", "`text` for people, `json` for one JSON object per line."),
    ] = "text"
    data_dir: Annotated[
        str, from_env("DATA_DIR", "Directory for local state such as the embedded database.")
    ] = ".data"
    max_request_body_bytes: Annotated[
        int,
        from_env("MAX_REQUEST_BODY_BYTES", "Larger request bodies get 413.", ge=1024, le=1 << 30),
    ] = 1_048_576
    body_buffer_budget_bytes: Annotated[
        int,
        from_env(
            "APP_BODY_BUFFER_BUDGET_BYTES",
            "Request-body bytes a process holds at once; past it, 503 with Retry-After.",
            ge=1024,
            le=1 << 34,
        ),
    ] = 64 * 1_048_576
    body_read_timeout_seconds: Annotated[
        float,
        from_env(
            "APP_BODY_READ_TIMEOUT_SECONDS",
            "Time a request body may take to arrive, from the end of its headers; then 408.",
            gt=0,
            le=600,
        ),
    ] = 15.0
    max_concurrent_requests: Annotated[
        int,
        from_env(
            "APP_MAX_CONCURRENT_REQUESTS",
            "HTTP requests a process handles at once; more wait in arrival order. 0: no limit.",
            ge=0,
            le=10_000,
        ),
    ] = 16
    trusted_proxies: Annotated[
        str | None,
        from_env(
            "TRUSTED_PROXIES",
            "Comma-separated IPs or CIDRs of proxies whose X-Forwarded-For is believed.",
        ),
    ] = None
    public_url: Annotated[
        str,
        from_env(
            "APP_PUBLIC_URL",
            "Where users reach the service; emailed links start here. https in production.",
        ),
    ] = "http://127.0.0.1:8000"
    readiness_timeout_seconds: Annotated[
        float,
        from_env(
            "READINESS_TIMEOUT_SECONDS", "How long each readiness probe may take.", gt=0, le=30
        ),
    ] = 2.0
    shutdown_timeout_seconds: Annotated[
        float,
        from_env("SHUTDOWN_TIMEOUT_SECONDS", "Grace period for in-flight requests on stop.", ge=0),
    ] = 5.0


class CorsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which browser origins may call the API (CORS); with none listed, none may."""

    allowed_origins: Annotated[
        str | None,
        from_env(
            "CORS_ALLOWED_ORIGINS",
            "Comma-separated origins (`https://app.example.com`) whose pages may call the API, "
            "or `*` for any (without credentials); unset: none, and no CORS headers at all.",
        ),
    ] = None
    allowed_methods: Annotated[
        str, from_env("CORS_ALLOWED_METHODS", "Methods those pages may use.")
    ] = "GET, POST, PUT, DELETE"
    allowed_headers: Annotated[
        str, from_env("CORS_ALLOWED_HEADERS", "Request headers those pages may send.")
    ] = "Authorization, Content-Type, X-Request-ID"
    exposed_headers: Annotated[
        str, from_env("CORS_EXPOSE_HEADERS", "Response headers those pages may read.")
    ] = "X-Request-ID, Retry-After"
    allow_credentials: Annotated[
        bool,
        from_env(
            "CORS_ALLOW_CREDENTIALS",
            "Let those pages send cookies (the refresh cookie, same-site only); not with `*`.",
        ),
    ] = False
    max_age_seconds: Annotated[
        int,
        from_env(
            "CORS_MAX_AGE_SECONDS",
            "How long a browser may reuse a preflight's answer.",
            ge=0,
            le=86_400,
        ),
    ] = 600


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """PostgreSQL. Without a URL, outside production, an embedded server is started."""

    url: Annotated[
        str | None,
        from_env("DATABASE_URL", "`postgresql://user:pass@host:port/db`; unset means embedded."),
    ] = None
    pool_size: Annotated[
        int, from_env("DATABASE_POOL_SIZE", "Connections kept open per process.", ge=1, le=200)
    ] = 10
    max_overflow: Annotated[
        int, from_env("DATABASE_MAX_OVERFLOW", "Extra connections under burst.", ge=0, le=200)
    ] = 10
    pool_timeout_seconds: Annotated[
        float, from_env("DATABASE_POOL_TIMEOUT_SECONDS", "Wait for a free connection.", gt=0)
    ] = 10.0
    connect_timeout_seconds: Annotated[
        int,
        from_env("DATABASE_CONNECT_TIMEOUT_SECONDS", "Wait for a new connection.", ge=1, le=120),
    ] = 5
    echo: Annotated[
        bool, from_env("DATABASE_ECHO", "Log every SQL statement (development only).")
    ] = False
    retry_after_seconds: Annotated[
        int,
        from_env(
            "DATABASE_RETRY_AFTER_SECONDS",
            "`Retry-After` of a 503 answered while the database is unreachable.",
            ge=1,
            le=300,
        ),
    ] = 2


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Access tokens and password hashing."""

    jwt_secret: Annotated[
        str | None,
        from_env(
            "JWT_SECRET",
            "Token signing key, at least 32 bytes (48 for HS384, 64 for HS512); required "
            "when APP_ENV=production. "
            "Elsewhere, unset means a random key kept in DATA_DIR/jwt-secret.",
            secret=True,
        ),
    ] = None
    jwt_algorithm: Annotated[
        Literal["HS256", "HS384", "HS512"],
        from_env("JWT_ALGORITHM", "The one algorithm tokens are signed and accepted with."),
    ] = "HS256"
    jwt_issuer: Annotated[str, from_env("JWT_ISSUER", "The `iss` claim, checked on read.")] = (
        "portico"
    )
    jwt_audience: Annotated[str, from_env("JWT_AUDIENCE", "The `aud` claim, checked on read.")] = (
        "portico-api"
    )
    refresh_token_ttl_seconds: Annotated[
        int,
        from_env(
            "REFRESH_TOKEN_TTL_SECONDS",
            "A session ends this long after its last refresh.",
            ge=300,
            le=31_536_000,
        ),
    ] = 2_592_000
    session_max_lifetime_seconds: Annotated[
        int,
        from_env(
            "SESSION_MAX_LIFETIME_SECONDS",
            "However often it is refreshed, a session ends this long after sign-in.",
            ge=300,
        ),
    ] = 7_776_000
    refresh_reuse_grace_seconds: Annotated[
        int,
        from_env(
            "REFRESH_REUSE_GRACE_SECONDS",
            "A rotated refresh token presented again this soon, by the client that rotated "
            "it, gets the same new tokens instead of revoking its session; 0 turns this off.",
            ge=0,
            le=60,
        ),
    ] = 5
    email_verification_ttl_seconds: Annotated[
        int,
        from_env("EMAIL_VERIFICATION_TTL_SECONDS", "Verification links expire after this.", ge=300),
    ] = 172_800
    password_reset_ttl_seconds: Annotated[
        int,
        from_env("PASSWORD_RESET_TTL_SECONDS", "Reset links expire after this.", ge=300, le=86_400),
    ] = 3_600
    access_token_ttl_seconds: Annotated[
        int,
        from_env("ACCESS_TOKEN_TTL_SECONDS", "Access token lifetime.", ge=60, le=86_400),
    ] = 900
    email_restore_ttl_seconds: Annotated[
        int,
        from_env(
            "EMAIL_RESTORE_TTL_SECONDS",
            "The link mailed to the old address after an email change restores it for this long.",
            ge=86_400,
            le=2_592_000,
        ),
    ] = 604_800
    step_up_window_seconds: Annotated[
        int,
        from_env(
            "STEP_UP_WINDOW_SECONDS",
            "Changing the email or password needs `currentPassword` once the session's "
            "sign-in is older than this.",
            ge=0,
            le=86_400,
        ),
    ] = 600
    password_hash_time_cost: Annotated[
        int, from_env("PASSWORD_HASH_TIME_COST", "argon2id iterations (OWASP: 2).", ge=2, le=20)
    ] = 2
    password_hash_memory_kib: Annotated[
        int,
        from_env(
            "PASSWORD_HASH_MEMORY_KIB",
            "argon2id memory per hash in KiB (OWASP: 19456).",
            ge=19_456,
            le=4_194_304,
        ),
    ] = 19_456
    password_hash_parallelism: Annotated[
        int, from_env("PASSWORD_HASH_PARALLELISM", "argon2id lanes (OWASP: 1).", ge=1, le=16)
    ] = 1
    password_hash_threads: Annotated[
        int,
        from_env("PASSWORD_HASH_THREADS", "Hashes computed at once per process.", ge=1, le=64),
    ] = 2
    password_hash_niceness: Annotated[
        int,
        from_env(
            "PASSWORD_HASH_NICENESS",
            "How many nice steps below the event loop the hashing threads run (Linux; "
            "0 keeps them level), so a burst of sign-ins cannot crowd out other requests.",
            ge=0,
            le=19,
        ),
    ] = 10

    def __repr__(self) -> str:
        shown = "None" if self.jwt_secret is None else "'***'"
        return f"AuthSettings(jwt_secret={shown})"


class CacheSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Redis, shared by the cache, rate limits, fan-out and jobs."""

    redis_url: Annotated[
        str | None,
        from_env("REDIS_URL", "`redis://host:port/db`; when set, /health/ready probes it."),
    ] = None
    content_enabled: Annotated[
        bool,
        from_env(
            "CACHE_CONTENT",
            "Cache anonymous article and tag reads (in Redis, or in-process with one worker).",
        ),
    ] = True
    content_ttl_seconds: Annotated[
        int,
        from_env(
            "CACHE_CONTENT_TTL_SECONDS",
            "Longest a cached read lives; writes invalidate sooner.",
            ge=1,
            le=86_400,
        ),
    ] = 60


class MailSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The SMTP relay for outgoing mail."""

    smtp_host: Annotated[
        str | None, from_env("SMTP_HOST", "SMTP relay host; when set, /health/ready probes it.")
    ] = None
    smtp_port: Annotated[Port, from_env("SMTP_PORT", "SMTP relay port.")] = 587
    sender: Annotated[str, from_env("MAIL_FROM", "The From address of every email.")] = (
        "Portico <no-reply@portico.local>"
    )
    file_dir: Annotated[
        str | None,
        from_env("MAIL_FILE_DIR", "Where emails are written as .eml files; default DATA_DIR/mail."),
    ] = None
    smtp_tls: Annotated[
        Literal["none", "starttls", "tls"] | None,
        from_env(
            "SMTP_TLS",
            "`none`, `starttls` or `tls` (implicit); unset: `none` for a loopback host, "
            "else `starttls`.",
        ),
    ] = None
    smtp_username: Annotated[
        str | None, from_env("SMTP_USERNAME", "SMTP AUTH user; set with SMTP_PASSWORD.")
    ] = None
    smtp_password: Annotated[
        str | None,
        from_env("SMTP_PASSWORD", "SMTP AUTH password; set with SMTP_USERNAME.", secret=True),
    ] = None
    smtp_timeout_seconds: Annotated[
        float, from_env("SMTP_TIMEOUT_SECONDS", "Give up on the relay after this.", gt=0, le=300)
    ] = 10.0

    def __repr__(self) -> str:
        shown = "None" if self.smtp_password is None else "'***'"
        return f"MailSettings(smtp_host={self.smtp_host!r}, smtp_password={shown})"


class KafkaSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Kafka cluster of the event bus."""

    bootstrap_servers: Annotated[
        str | None,
        from_env(
            "KAFKA_BOOTSTRAP_SERVERS", "`host:port[,...]`; when set, /health/ready probes it."
        ),
    ] = None
    topic_prefix: Annotated[
        str,
        from_env(
            "KAFKA_TOPIC_PREFIX",
            "Events go to `<prefix><aggregate type>`, such as `portico.article`.",
            pattern=r"^[A-Za-z0-9._-]{0,100}$",
        ),
    ] = "portico."
    consumer_group: Annotated[
        str,
        from_env(
            "KAFKA_CONSUMER_GROUP",
            "The group `portico worker` consumes in; workers of one group share the partitions.",
            pattern=r"^[A-Za-z0-9._-]{1,100}$",
        ),
    ] = "portico"
    consumer_max_attempts: Annotated[
        int,
        from_env(
            "KAFKA_CONSUMER_MAX_ATTEMPTS",
            "Tries per event before it goes to `<prefix>dead-letter`.",
            ge=1,
            le=100,
        ),
    ] = 5
    consumer_retry_base_seconds: Annotated[
        float,
        from_env(
            "KAFKA_CONSUMER_RETRY_BASE_SECONDS", "First wait between tries; it doubles.", ge=0
        ),
    ] = 0.5


class SchedulerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The periodic housekeeping jobs `portico scheduler` enqueues."""

    purge_interval_seconds: Annotated[
        int,
        from_env(
            "SCHEDULER_PURGE_INTERVAL_SECONDS",
            "How often ended sessions, used tokens and sent events are purged.",
            ge=60,
        ),
    ] = 3600
    credentials_grace_seconds: Annotated[
        int,
        from_env(
            "SCHEDULER_CREDENTIALS_GRACE_SECONDS",
            "Ended sessions and tokens are kept this long before the purge.",
            ge=0,
        ),
    ] = 86_400


class OutboxSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The relay that publishes the outbox, and how long sent rows are kept."""

    bus: Annotated[
        Literal["auto", "redis-streams"],
        from_env(
            "EVENT_BUS",
            "`auto`: Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else in-process; "
            "`redis-streams`: streams on REDIS_URL.",
        ),
    ] = "auto"
    relay_in_api: Annotated[
        bool | None,
        from_env(
            "OUTBOX_RELAY_IN_API",
            "Run the relay in each API process; unset: only when Kafka is not configured.",
        ),
    ] = None
    batch_size: Annotated[
        int, from_env("OUTBOX_BATCH_SIZE", "Events the relay publishes per batch.", ge=1, le=5000)
    ] = 500
    poll_interval_seconds: Annotated[
        float,
        from_env("OUTBOX_POLL_INTERVAL_SECONDS", "Wait when nothing is due.", gt=0, le=60),
    ] = 0.05
    retry_base_seconds: Annotated[
        float,
        from_env("OUTBOX_RETRY_BASE_SECONDS", "First wait after a failed publish.", gt=0, le=60),
    ] = 1.0
    retry_max_seconds: Annotated[
        float,
        from_env("OUTBOX_RETRY_MAX_SECONDS", "Longest wait between retries.", gt=0, le=3600),
    ] = 60.0
    retention_seconds: Annotated[
        int,
        from_env("OUTBOX_RETENTION_SECONDS", "Sent rows are purged after this.", ge=60),
    ] = 7 * 86_400


class SmsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The SMS gateway: a Twilio-compatible Messages API."""

    base_url: Annotated[
        str | None,
        from_env("SMS_BASE_URL", "Gateway root, such as https://api.twilio.com; unset: no SMS."),
    ] = None
    account_sid: Annotated[
        str | None, from_env("SMS_ACCOUNT_SID", "The account the messages are billed to.")
    ] = None
    auth_token: Annotated[
        str | None, from_env("SMS_AUTH_TOKEN", "The account's secret.", secret=True)
    ] = None
    sender: Annotated[
        str | None, from_env("SMS_FROM", "The number (E.164) messages come from.")
    ] = None

    def __repr__(self) -> str:
        shown = "None" if self.auth_token is None else "'***'"
        return f"SmsSettings(base_url={self.base_url!r}, auth_token={shown})"


class PushSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Web Push with VAPID: the server's key pair, and which endpoints are accepted."""

    vapid_private_key: Annotated[
        str | None,
        from_env(
            "PUSH_VAPID_PRIVATE_KEY",
            "Base64url P-256 private key (`portico push keys` makes one); unset: no push.",
            secret=True,
        ),
    ] = None
    vapid_subject: Annotated[
        str,
        from_env(
            "PUSH_VAPID_SUBJECT",
            "How push services reach the operator: a mailto: or https: URL.",
            pattern=r"^(mailto:|https://).+",
        ),
    ] = "mailto:ops@portico.local"
    timeout_seconds: Annotated[
        float, from_env("PUSH_TIMEOUT_SECONDS", "Give up on a push service after this.", gt=0)
    ] = 10.0
    allowed_hosts: Annotated[
        str,
        from_env(
            "PUSH_ALLOWED_HOSTS",
            "Comma-separated hosts of the push services endpoints may point at; "
            "`*.example.com` admits every name below example.com. The default: FCM (Chrome "
            "and most Chromium browsers), Firefox, Safari, Edge.",
        ),
    ] = (
        "fcm.googleapis.com, updates.push.services.mozilla.com, "
        "*.push.apple.com, *.notify.windows.com"
    )
    resolve_timeout_seconds: Annotated[
        float,
        from_env(
            "PUSH_RESOLVE_TIMEOUT_SECONDS",
            "Give up resolving a new endpoint's host after this; the subscription gets 422.",
            gt=0,
            le=30,
        ),
    ] = 2.0
    allow_local_endpoints: Annotated[
        bool,
        from_env(
            "PUSH_ALLOW_LOCAL_ENDPOINTS",
            "Accept http, IP-literal, private and unlisted endpoints, and push to private "
            "addresses (local testing only; refused when APP_ENV=production).",
        ),
    ] = False
    max_subscriptions_per_user: Annotated[
        int,
        from_env("PUSH_MAX_SUBSCRIPTIONS_PER_USER", "Browsers one account may subscribe.", ge=1),
    ] = 20

    def __repr__(self) -> str:
        shown = "None" if self.vapid_private_key is None else "'***'"
        return f"PushSettings(vapid_private_key={shown}, vapid_subject={self.vapid_subject!r})"


class NotificationSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fan-out of notifications, phone verification, and the realtime channel."""

    fan_out_batch_size: Annotated[
        int,
        from_env(
            "NOTIFICATIONS_FAN_OUT_BATCH_SIZE",
            "Followers notified per transaction (and per job) when an author publishes.",
            ge=1,
            le=10_000,
        ),
    ] = 500
    retention_days: Annotated[
        int,
        from_env(
            "NOTIFICATIONS_RETENTION_DAYS",
            "Notifications older than this are deleted by `portico scheduler`'s purge.",
            ge=1,
        ),
    ] = 180
    delivery_stale_seconds: Annotated[
        float,
        from_env(
            "NOTIFICATIONS_DELIVERY_STALE_SECONDS",
            "A delivery pending this long lost its job and is enqueued again; a job retries "
            "recording a sent message for half of it.",
            gt=0,
        ),
    ] = 120.0
    delivery_sweep_interval_seconds: Annotated[
        float,
        from_env(
            "NOTIFICATIONS_DELIVERY_SWEEP_SECONDS",
            "How often the relaying process looks for such deliveries.",
            gt=0,
        ),
    ] = 30.0
    phone_code_ttl_seconds: Annotated[
        int, from_env("PHONE_CODE_TTL_SECONDS", "How long an SMS verification code lives.", ge=60)
    ] = 600
    phone_codes_per_window: Annotated[
        int, from_env("RATE_LIMIT_PHONE_CODES", "SMS codes one user may request per window.", ge=1)
    ] = 5
    phone_codes_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_PHONE_CODES_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    phone_codes_per_client: Annotated[
        int,
        from_env(
            "RATE_LIMIT_PHONE_CODES_PER_IP",
            "SMS codes one client IP may request per that window, whichever accounts ask.",
            ge=1,
        ),
    ] = 10
    phone_codes_budget_per_hour: Annotated[
        int,
        from_env(
            "SMS_CODES_BUDGET_PER_HOUR",
            "SMS codes sent per hour across all users; beyond it, 503 and one log line.",
            ge=1,
        ),
    ] = 500
    phone_calling_codes: Annotated[
        str,
        from_env(
            "SMS_ALLOWED_CALLING_CODES",
            "Comma-separated calling codes (`1,44,49`) numbers may have; empty: all.",
            pattern=r"^\s*([1-9][0-9]{0,2}\s*(,\s*[1-9][0-9]{0,2}\s*)*)?$",
        ),
    ] = ""
    emails_per_recipient_per_hour: Annotated[
        int,
        from_env(
            "MAIL_CAP_PER_RECIPIENT",
            "Emails (notifications, verification and reset links) one address gets per hour.",
            ge=1,
        ),
    ] = 20
    security_emails_per_recipient_per_hour: Annotated[
        int,
        from_env(
            "MAIL_CAP_SECURITY_PER_RECIPIENT",
            "Security notices one address gets per hour (counted apart, so never crowded out).",
            ge=1,
        ),
    ] = 50
    sms_per_recipient_per_hour: Annotated[
        int,
        from_env("SMS_CAP_PER_RECIPIENT", "Notification SMS one number gets per hour.", ge=1),
    ] = 5
    security_sms_per_recipient_per_hour: Annotated[
        int,
        from_env(
            "SMS_CAP_SECURITY_PER_RECIPIENT",
            "Security notification SMS one number gets per hour (counted apart).",
            ge=1,
        ),
    ] = 10
    new_follower_window_seconds: Annotated[
        int,
        from_env(
            "NOTIFICATIONS_NEW_FOLLOWER_WINDOW_SECONDS",
            "One new_follower notification per follower and followee within this.",
            ge=0,
        ),
    ] = 86_400
    templates_dir: Annotated[
        str | None,
        from_env(
            "TEMPLATES_DIR",
            "A directory of templates that win over the packaged ones (same file names).",
        ),
    ] = None
    realtime_channel_prefix: Annotated[
        str,
        from_env("REALTIME_CHANNEL_PREFIX", "Redis pub/sub channels are named this plus the room."),
    ] = "portico:rt:"


class StorageSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """File storage, local or S3; filled by the uploads feature."""


class QueueSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Background jobs: in the process that enqueues them, or on Redis for `portico worker`."""

    backend: Annotated[
        Literal["in-process", "redis"],
        from_env(
            "JOBS_QUEUE",
            "`in-process` runs jobs where they are enqueued; `redis` hands them to workers.",
        ),
    ] = "in-process"
    stream: Annotated[
        str, from_env("JOBS_STREAM", "The Redis stream jobs wait in.", min_length=1)
    ] = "portico:jobs"
    max_attempts: Annotated[
        int, from_env("JOBS_MAX_ATTEMPTS", "Runs of a failing job before it is dropped.", ge=1)
    ] = 5
    retry_base_seconds: Annotated[
        float,
        from_env("JOBS_RETRY_BASE_SECONDS", "Wait after a job's first failure; it doubles.", ge=0),
    ] = 2.0
    redeliver_after_seconds: Annotated[
        float,
        from_env(
            "JOBS_REDELIVER_AFTER_SECONDS",
            "A job unacknowledged this long (its worker died) goes to another worker.",
            gt=0,
        ),
    ] = 60.0
    concurrency: Annotated[
        int, from_env("JOBS_CONCURRENCY", "Jobs one worker runs at once.", ge=1, le=1000)
    ] = 20


class RateLimitSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rate limits, counted in Redis when REDIS_URL is set (shared), else per process."""

    auth_per_ip_limit: Annotated[
        int,
        from_env("RATE_LIMIT_AUTH_PER_IP", "Requests per IP to each auth route per window.", ge=1),
    ] = 60
    auth_per_ip_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_AUTH_PER_IP_WINDOW_SECONDS", "That window.", ge=1)
    ] = 60
    registrations_per_ip_limit: Annotated[
        int,
        from_env(
            "RATE_LIMIT_REGISTRATIONS_PER_IP",
            "Sign-up attempts per IP per window, on top of the auth limit.",
            ge=1,
        ),
    ] = 50
    registrations_per_ip_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_REGISTRATIONS_PER_IP_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    follows_per_user_limit: Annotated[
        int,
        from_env(
            "RATE_LIMIT_FOLLOWS_PER_USER",
            "Follows and unfollows together one user may make per window.",
            ge=1,
        ),
    ] = 60
    follows_per_user_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_FOLLOWS_PER_USER_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    favorites_per_user_limit: Annotated[
        int,
        from_env(
            "RATE_LIMIT_FAVORITES_PER_USER",
            "Favorites and unfavorites together one user may make per window.",
            ge=1,
        ),
    ] = 120
    favorites_per_user_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_FAVORITES_PER_USER_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    comments_per_user_limit: Annotated[
        int,
        from_env("RATE_LIMIT_COMMENTS_PER_USER", "Comments one user may post per window.", ge=1),
    ] = 30
    comments_per_user_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_COMMENTS_PER_USER_WINDOW_SECONDS", "That window.", ge=1)
    ] = 600
    articles_per_user_limit: Annotated[
        int,
        from_env("RATE_LIMIT_ARTICLES_PER_USER", "Articles one user may publish per window.", ge=1),
    ] = 20
    articles_per_user_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_ARTICLES_PER_USER_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    failed_logins_per_account: Annotated[
        int,
        from_env(
            "RATE_LIMIT_FAILED_LOGINS",
            "Failed sign-ins per account per window from one client: one known device "
            "(device cookie), else one IP.",
            ge=1,
        ),
    ] = 10
    failed_logins_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_FAILED_LOGINS_WINDOW_SECONDS", "That window.", ge=1)
    ] = 900
    untrusted_failed_logins_per_account: Annotated[
        int,
        from_env(
            "RATE_LIMIT_UNTRUSTED_LOGINS",
            "Failed sign-ins per account per window from all clients without its device "
            "cookie together; it refills steadily, and known devices are not counted.",
            ge=1,
        ),
    ] = 100
    untrusted_failed_logins_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_UNTRUSTED_LOGINS_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    login_device_ttl_seconds: Annotated[
        int,
        from_env(
            "LOGIN_DEVICE_COOKIE_TTL_SECONDS",
            "How long the device cookie a sign-in sets keeps its client trusted; each "
            "sign-in renews it.",
            ge=86_400,
            le=34_560_000,
        ),
    ] = 31_536_000
    password_resets_per_account: Annotated[
        int, from_env("RATE_LIMIT_PASSWORD_RESETS", "Reset links per email per window.", ge=1)
    ] = 5
    password_resets_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_PASSWORD_RESETS_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    verification_emails_per_account: Annotated[
        int,
        from_env(
            "RATE_LIMIT_VERIFICATION_EMAILS", "Verification resends per account per window.", ge=1
        ),
    ] = 3
    verification_emails_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_VERIFICATION_EMAILS_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    fail_open: Annotated[
        bool,
        from_env("RATE_LIMIT_FAIL_OPEN", "When the limiter's store is down, let requests pass."),
    ] = True
    login_fail_open: Annotated[
        bool,
        from_env("RATE_LIMIT_LOGIN_FAIL_OPEN", "The same for the failed sign-in limits."),
    ] = False


class WebSocketSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The live channels: the WebSocket gateway at /ws and the SSE stream."""

    auth_timeout_seconds: Annotated[
        float,
        from_env("WS_AUTH_TIMEOUT_SECONDS", "Time to send the auth message, else 4401.", gt=0),
    ] = 5.0
    heartbeat_seconds: Annotated[
        float,
        from_env(
            "WS_HEARTBEAT_SECONDS",
            "Interval of the server's heartbeat on sockets and streams.",
            gt=0,
        ),
    ] = 25.0
    idle_timeout_seconds: Annotated[
        float,
        from_env(
            "WS_IDLE_TIMEOUT_SECONDS",
            "Close a socket whose client sent nothing for this long.",
            gt=0,
        ),
    ] = 75.0
    send_queue_size: Annotated[
        int,
        from_env(
            "WS_SEND_QUEUE_SIZE",
            "Messages queued for one slow client before it is dropped (close 1013).",
            ge=1,
            le=100_000,
        ),
    ] = 256
    max_message_bytes: Annotated[
        int,
        from_env("WS_MAX_MESSAGE_BYTES", "Largest message a client may send.", ge=256),
    ] = 16_384
    messages_per_minute: Annotated[
        int,
        from_env(
            "WS_MESSAGES_PER_MINUTE",
            "Messages a client may send per minute; beyond, errors; at twice, close 1008.",
            ge=1,
        ),
    ] = 120
    max_unauthenticated: Annotated[
        int,
        from_env(
            "WS_MAX_UNAUTHENTICATED",
            "Sockets per process allowed to wait for their auth message; more are refused; "
            "0 (the default) admits only sockets with a ticket.",
            ge=0,
        ),
    ] = 0
    max_connections_per_user: Annotated[
        int,
        from_env(
            "WS_MAX_CONNECTIONS_PER_USER", "Live sockets and streams per user per process.", ge=1
        ),
    ] = 20
    max_unauthenticated_per_client: Annotated[
        int,
        from_env(
            "WS_MAX_UNAUTHENTICATED_PER_CLIENT",
            "Of those, sockets one client address (an IPv6 /64) may hold; more are refused.",
            ge=1,
        ),
    ] = 10
    max_live_connections: Annotated[
        int,
        from_env(
            "WS_MAX_LIVE_CONNECTIONS",
            "Live sockets and streams per process; more are refused (close 1013, SSE 503).",
            ge=1,
        ),
    ] = 10_000
    ticket_ttl_seconds: Annotated[
        int,
        from_env(
            "WS_TICKET_TTL_SECONDS",
            "Life of a single-use ticket that authenticates a socket at its handshake.",
            ge=5,
            le=300,
        ),
    ] = 30


class ExternalApiSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Calls to third-party HTTP APIs; filled by the features that make them."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the process can be told, validated before anything starts."""

    app: AppSettings = msgspec.field(default_factory=AppSettings)
    cors: CorsSettings = msgspec.field(default_factory=CorsSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    cache: CacheSettings = msgspec.field(default_factory=CacheSettings)
    mail: MailSettings = msgspec.field(default_factory=MailSettings)
    sms: SmsSettings = msgspec.field(default_factory=SmsSettings)
    push: PushSettings = msgspec.field(default_factory=PushSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)
    outbox: OutboxSettings = msgspec.field(default_factory=OutboxSettings)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
    queue: QueueSettings = msgspec.field(default_factory=QueueSettings)
    rate_limit: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    websocket: WebSocketSettings = msgspec.field(default_factory=WebSocketSettings)
    notifications: NotificationSettings = msgspec.field(default_factory=NotificationSettings)
    external_api: ExternalApiSettings = msgspec.field(default_factory=ExternalApiSettings)

    @property
    def is_production(self) -> bool:
        """Whether the strict production rules apply."""
        return self.app.env == "production"

    @property
    def api_relays_outbox(self) -> bool:
        """Whether each API process relays the outbox: as told, else when the bus is in-process."""
        if self.outbox.relay_in_api is not None:
            return self.outbox.relay_in_api
        return self.kafka.bootstrap_servers is None and self.outbox.bus == "auto"

    @property
    def api_sends_mail(self) -> bool:
        """Whether jobs, and so emails, run in the API process that enqueued them."""
        return self.queue.backend == "in-process"
