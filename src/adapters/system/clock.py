"""The wall clock."""

from datetime import UTC, datetime


class SystemClock:
    """Reads the operating system's clock, always in UTC."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)
