"""Where state is kept: PostgreSQL, Redis, and files."""

from typing import Annotated, Literal

from domain.files.policy import LARGEST_FILE_BYTES
from entrypoints.config.settings.section import Section, from_env

MIB = 1_048_576


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
    """Where uploaded files are kept: a local directory or an S3 bucket."""

    backend: Annotated[
        Literal["local", "s3"],
        from_env("STORAGE_BACKEND", "`local` (a directory) or `s3` (any S3-compatible service)."),
    ] = "local"
    local_dir: Annotated[
        str | None,
        from_env("STORAGE_LOCAL_DIR", "The directory of `local`; default DATA_DIR/uploads."),
    ] = None
    s3_endpoint_url: Annotated[
        str | None,
        from_env("S3_ENDPOINT_URL", "The S3 service's address; unset means AWS in S3_REGION."),
    ] = None
    s3_public_endpoint_url: Annotated[
        str | None,
        from_env(
            "S3_PUBLIC_ENDPOINT_URL",
            "The address clients reach S3 at, for presigned URLs; default S3_ENDPOINT_URL.",
        ),
    ] = None
    s3_bucket: Annotated[
        str | None, from_env("S3_BUCKET", "The bucket files go to; required by `s3`.")
    ] = None
    s3_region: Annotated[str, from_env("S3_REGION", "The bucket's region.")] = "us-east-1"
    s3_access_key_id: Annotated[
        str | None,
        from_env("S3_ACCESS_KEY_ID", "Unset means the AWS default chain (role, profile)."),
    ] = None
    s3_secret_access_key: Annotated[
        str | None,
        from_env("S3_SECRET_ACCESS_KEY", "The secret of S3_ACCESS_KEY_ID.", secret=True),
    ] = None
    presign_expiry_seconds: Annotated[
        int,
        from_env(
            "FILES_PRESIGN_EXPIRY_SECONDS",
            "How long a direct upload's or download's presigned URL works.",
            ge=10,
            le=3600,
        ),
    ] = 300
    redirect_downloads: Annotated[
        bool,
        from_env(
            "FILES_REDIRECT_DOWNLOADS",
            "With `s3`, answer a download with a redirect to a presigned URL.",
        ),
    ] = True
    avatar_max_bytes: Annotated[
        int,
        from_env("FILES_AVATAR_MAX_BYTES", "Largest avatar image.", ge=1024, le=1 << 30),
    ] = 5 * MIB
    article_image_max_bytes: Annotated[
        int,
        from_env("FILES_ARTICLE_IMAGE_MAX_BYTES", "Largest article image.", ge=1024, le=1 << 30),
    ] = 10 * MIB
    attachment_max_bytes: Annotated[
        int,
        from_env(
            "FILES_ATTACHMENT_MAX_BYTES", "Largest attachment.", ge=1024, le=LARGEST_FILE_BYTES
        ),
    ] = 256 * MIB
    quota_bytes: Annotated[
        int,
        from_env(
            "FILES_QUOTA_BYTES",
            "Bytes one user's pending and ready files may take together.",
            ge=1024,
            le=1 << 44,
        ),
    ] = 1024 * MIB
    max_image_pixels: Annotated[
        int,
        from_env(
            "FILES_MAX_IMAGE_PIXELS",
            "Most pixels an image may declare; more is refused as a decompression bomb.",
            ge=1,
            le=89_000_000,
        ),
    ] = 40_000_000
    thumbnail_max_edge: Annotated[
        int,
        from_env(
            "FILES_THUMBNAIL_MAX_EDGE",
            "Longer side of image thumbnails, which are what the public sees of images.",
            ge=16,
            le=4096,
        ),
    ] = 1024
    pending_ttl_seconds: Annotated[
        int,
        from_env(
            "FILES_PENDING_TTL_SECONDS",
            "A direct upload not completed this long after it started is discarded.",
            ge=60,
            le=7 * 86_400,
        ),
    ] = 3600
