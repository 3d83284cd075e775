"""One WARNING when a dependency goes away and one line when it is back, however many fail."""

import time

from loguru import logger


class OutageLog:
    """Tracks whether `dependency` is down, so that an outage is logged once, not per failure.

    `down` logs the first failure of an outage at WARNING with its cause and only counts the
    others; `up` logs the recovery once, with how long it took and how many failures it
    cost. Both are cheap enough to call on every attempt. One event loop owns an instance:
    it is not thread-safe.
    """

    def __init__(self, dependency: str, *, what_waits: str = "") -> None:
        self._dependency = dependency
        self._what_waits = what_waits
        self._down_since: float | None = None
        self._failures = 0

    @property
    def is_down(self) -> bool:
        """Whether the last thing heard from the dependency was a failure."""
        return self._down_since is not None

    def down(self, cause: BaseException | str) -> None:
        """Record a failure; the first of an outage is logged."""
        self._failures += 1
        if self._down_since is not None:
            return
        self._down_since = time.monotonic()
        reason = cause if isinstance(cause, str) else _describe(cause)
        waits = f"; {self._what_waits}" if self._what_waits else ""
        logger.warning("{} unavailable ({}){}", self._dependency, reason, waits)

    def up(self) -> None:
        """Record a success; the first after an outage is logged with the outage's length."""
        if self._down_since is None:
            return
        lasted = time.monotonic() - self._down_since
        failures, self._failures, self._down_since = self._failures, 0, None
        logger.info(
            "{} available again after {:.1f}s ({} failed attempts meanwhile)",
            self._dependency,
            lasted,
            failures,
        )


def _describe(cause: BaseException) -> str:
    """The innermost cause's class and first line: the driver's words, without a traceback."""
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__
