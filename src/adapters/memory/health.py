"""A health probe whose answer a test sets."""

from application.health.ports import HealthProbe


class InMemoryHealthProbe(HealthProbe):
    """Answers as told: healthy until `fail_with` is given an exception."""

    def __init__(self, dependency: str) -> None:
        self._dependency = dependency
        self.failure: Exception | None = None
        self.checks = 0

    @property
    def dependency(self) -> str:
        """The name this probe reports."""
        return self._dependency

    def fail_with(self, failure: Exception | None) -> None:
        """Make later checks raise `failure`, or succeed again when it is None."""
        self.failure = failure

    async def check(self) -> None:
        """Count the call, then raise the configured failure if there is one."""
        self.checks += 1
        if self.failure is not None:
            raise self.failure
