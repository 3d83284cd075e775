"""How the process runs and meets the outside: server, CORS, live channels, API calls."""

from typing import Annotated, Literal

from entrypoints.config.settings.section import Port, Section, from_env


class AppSettings(Section, frozen=True, kw_only=True):
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
    max_streamed_bodies: Annotated[
        int,
        from_env(
            "APP_MAX_STREAMED_BODIES",
            "Uploads a process streams at once (each holds a database connection while it "
            "streams); more get 503 with Retry-After.",
            ge=1,
            le=1000,
        ),
    ] = 4
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


class CorsSettings(Section, frozen=True, kw_only=True):
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


class LinksSettings(Section, frozen=True, kw_only=True):
    """Where emailed links lead: Portico's own pages, or a web frontend's (docs/pages.md)."""

    frontend_url: Annotated[
        str | None,
        from_env(
            "LINKS_FRONTEND_URL",
            "A web frontend (`https://app.example.com`) that emailed links open, built from "
            "the LINKS_*_PATH patterns; unset: Portico's own pages under APP_PUBLIC_URL.",
        ),
    ] = None
    verify_email_path: Annotated[
        str,
        from_env(
            "LINKS_VERIFY_EMAIL_PATH",
            "With LINKS_FRONTEND_URL: its page that confirms an address; `{token}` is the "
            "link's token.",
        ),
    ] = "/verify-email?token={token}"
    reset_password_path: Annotated[
        str,
        from_env(
            "LINKS_RESET_PASSWORD_PATH",
            "With LINKS_FRONTEND_URL: its page that sets a new password; `{token}` as above.",
        ),
    ] = "/reset-password?token={token}"  # noqa: S105 - a path, not a password
    restore_email_path: Annotated[
        str,
        from_env(
            "LINKS_RESTORE_EMAIL_PATH",
            "With LINKS_FRONTEND_URL: its page that undoes an email change; `{token}` as above.",
        ),
    ] = "/restore-email?token={token}"
    article_path: Annotated[
        str,
        from_env(
            "LINKS_ARTICLE_PATH",
            "With LINKS_FRONTEND_URL: its page of an article; `{slug}` is the article's slug.",
        ),
    ] = "/article/{slug}"
    profile_path: Annotated[
        str,
        from_env(
            "LINKS_PROFILE_PATH",
            "With LINKS_FRONTEND_URL: its page of a profile; `{username}` is the user's name.",
        ),
    ] = "/profile/{username}"
    settings_path: Annotated[
        str,
        from_env(
            "LINKS_SETTINGS_PATH",
            "With LINKS_FRONTEND_URL: its account settings page.",
        ),
    ] = "/settings"

    def path_patterns(self) -> dict[str, tuple[str, str]]:
        """Each pattern's variable, its value and the one placeholder it must hold."""
        return {
            "LINKS_VERIFY_EMAIL_PATH": (self.verify_email_path, "{token}"),
            "LINKS_RESET_PASSWORD_PATH": (self.reset_password_path, "{token}"),
            "LINKS_RESTORE_EMAIL_PATH": (self.restore_email_path, "{token}"),
            "LINKS_ARTICLE_PATH": (self.article_path, "{slug}"),
            "LINKS_PROFILE_PATH": (self.profile_path, "{username}"),
            "LINKS_SETTINGS_PATH": (self.settings_path, ""),
        }


class WebSocketSettings(Section, frozen=True, kw_only=True):
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
            "0 (the default) admits only sockets with a ticket; in production, above 0 "
            "needs APP_SERVER=uvicorn.",
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


class ExternalApiSettings(Section, frozen=True, kw_only=True):
    """Calls to third-party HTTP APIs; filled by the features that make them."""
