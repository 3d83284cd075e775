"""Health ports: one probe per dependency the service needs to be ready."""

from typing import Protocol


class HealthProbe(Protocol):
    """Checks one dependency for real, with a round trip to it.

    `check` returns when the dependency answered and raises any exception when it did not.
    It must be cheap (a ``SELECT 1``, a ``PING``), because load balancers call it often.
    """

    @property
    def dependency(self) -> str:
        """The name reported for this dependency, such as ``database`` or ``redis``."""
        ...

    async def check(self) -> None:
        """Return when the dependency answers; raise when it does not."""
        ...
