"""The wall clock."""

from datetime import UTC, datetime

from application.common.ports.clock import Clock


class SystemClock(Clock):
    """Reads the operating system's clock, always in UTC."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)
