"""Probes the Kafka cluster by fetching its metadata."""

from aiokafka.client import AIOKafkaClient

from application.health.ports import HealthProbe


class KafkaProbe(HealthProbe):
    """Reports Kafka up when a bootstrap server answers a metadata request."""

    dependency = "kafka"

    def __init__(self, bootstrap_servers: str, *, timeout_seconds: float) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout_ms = int(timeout_seconds * 1000)

    async def check(self) -> None:
        """Connect, fetch the cluster metadata, and close again."""
        # AIOKafkaClient.bootstrap is undocumented: tests/*/test_reliances_storage.py
        client = AIOKafkaClient(
            bootstrap_servers=self._bootstrap_servers,
            request_timeout_ms=self._timeout_ms,
            client_id="portico-health",
        )
        try:
            await client.bootstrap()
        finally:
            await client.close()
