"""Who may do what, how often: tokens, password hashing, and rate limits."""

from typing import Annotated, Literal

from entrypoints.config.settings.section import Section, from_env


class AuthSettings(Section, frozen=True, kw_only=True):
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


class RateLimitSettings(Section, frozen=True, kw_only=True):
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
    uploads_per_user_limit: Annotated[
        int,
        from_env(
            "RATE_LIMIT_UPLOADS_PER_USER",
            "Uploads and started direct uploads one user may make per window.",
            ge=1,
        ),
    ] = 100
    uploads_per_user_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_UPLOADS_PER_USER_WINDOW_SECONDS", "That window.", ge=1)
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


class AuditSettings(Section, frozen=True, kw_only=True):
    """The audit log: whether it records, the key that anchors it, and how long it keeps."""

    enabled: Annotated[
        bool,
        from_env(
            "AUDIT_ENABLED",
            "Record an audit entry for every state-changing use case and every denied attempt.",
        ),
    ] = True
    signing_key: Annotated[
        str | None,
        from_env(
            "AUDIT_SIGNING_KEY",
            "Signs the audit chain's checkpoints and page cursors; at least 32 bytes, kept "
            "away from the database; required when APP_ENV=production. Elsewhere, unset "
            "means a key derived from JWT_SECRET.",
            secret=True,
        ),
    ] = None
    retention_days: Annotated[
        int,
        from_env(
            "AUDIT_RETENTION_DAYS",
            "Entries older than this are archived to file storage, then deleted.",
            ge=1,
            le=36_500,
        ),
    ] = 365
    checkpoint_interval_seconds: Annotated[
        int,
        from_env(
            "AUDIT_CHECKPOINT_INTERVAL_SECONDS",
            "How often the scheduler signs a checkpoint of the chain's head (and logs it).",
            ge=10,
            le=86_400,
        ),
    ] = 300
    seal_interval_seconds: Annotated[
        float,
        from_env(
            "AUDIT_SEAL_INTERVAL_SECONDS",
            "How often the process that relays the outbox chains new audit entries; an entry "
            "is readable, and tamper-evident, once chained.",
            ge=0.05,
            le=60,
        ),
    ] = 0.2
    stream_poll_seconds: Annotated[
        float,
        from_env(
            "AUDIT_STREAM_POLL_SECONDS",
            "How often the admin's live audit stream looks for new entries.",
            ge=0.1,
            le=60,
        ),
    ] = 1.0
