"""Probes Redis with a real round trip."""

from redis.asyncio import Redis

from application.health.ports import HealthProbe


class RedisProbe(HealthProbe):
    """Reports Redis up when ``PING`` answers."""

    dependency = "redis"

    def __init__(self, client: "Redis") -> None:
        self._client = client

    async def check(self) -> None:
        """Send ``PING``; raise when Redis does not answer."""
        await self._client.ping()
