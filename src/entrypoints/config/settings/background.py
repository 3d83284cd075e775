"""Work done off the request: the event bus, the outbox relay, jobs and the scheduler."""

from typing import Annotated, Literal

from entrypoints.config.settings.section import Section, from_env


class KafkaSettings(Section, frozen=True, kw_only=True):
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


class SchedulerSettings(Section, frozen=True, kw_only=True):
    """The periodic housekeeping jobs `portico scheduler` enqueues."""

    purge_interval_seconds: Annotated[
        int,
        from_env(
            "SCHEDULER_PURGE_INTERVAL_SECONDS",
            "How often ended sessions, used tokens, sent events, handled-event records and old "
            "notifications are purged.",
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
    file_garbage_interval_seconds: Annotated[
        int,
        from_env(
            "SCHEDULER_FILE_GARBAGE_INTERVAL_SECONDS",
            "How often expired direct uploads, deleted files' bytes and objects no file names "
            "are removed; each run lists every stored object.",
            ge=60,
        ),
    ] = 3600


class OutboxSettings(Section, frozen=True, kw_only=True):
    """The outbox relay, and how long sent rows and the consumers' records are kept."""

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
    processed_events_retention_seconds: Annotated[
        int,
        from_env(
            "PROCESSED_EVENTS_RETENTION_SECONDS",
            "The consumers' record of which events they handled is purged after this; it must "
            "exceed how long the bus may redeliver an event (Kafka's topic retention, 7 days by "
            "default), or a late redelivery is handled again.",
            ge=60,
        ),
    ] = 7 * 86_400


class QueueSettings(Section, frozen=True, kw_only=True):
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
