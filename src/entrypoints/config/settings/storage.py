"""Where state is kept: PostgreSQL, Redis, and files."""

from typing import Annotated

from entrypoints.config.settings.section import Section, from_env


class DatabaseSettings(Section, frozen=True, kw_only=True):
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


class CacheSettings(Section, frozen=True, kw_only=True):
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


class StorageSettings(Section, frozen=True, kw_only=True):
    """File storage, local or S3; filled by the uploads feature."""
