"""Builds the shared Redis client."""

from redis.asyncio import Redis

from adapters.opentelemetry.redis import TracedRedis
from adapters.opentelemetry.switch import TRACING


def create_redis_client(url: str, *, timeout_seconds: float, client_name: str) -> "Redis":
    """Create a pooled client; it connects on first use and retries nothing silently.

    While the process traces, its commands get spans (`adapters.opentelemetry.redis`).
    """
    client_class = Redis if TRACING.tracer is None else TracedRedis
    return client_class.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        health_check_interval=30,
        client_name=client_name,
    )
