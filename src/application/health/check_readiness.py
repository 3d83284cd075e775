"""Use case: tell whether every dependency the service needs answers right now."""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from application.health.ports import HealthProbe

_log = logging.getLogger(__name__)


class DependencyState(StrEnum):
    """How a dependency answered its probe."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True, kw_only=True)
class DependencyStatus:
    """The outcome of one probe. `error` is a short, safe reason and never a trace."""

    state: DependencyState
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessReport:
    """Every dependency's status; the service is ready only when all are up."""

    dependencies: dict[str, DependencyStatus]

    @property
    def ready(self) -> bool:
        """Whether every dependency answered."""
        return all(s.state is DependencyState.UP for s in self.dependencies.values())

    @property
    def failing(self) -> list[str]:
        """The names of the dependencies that did not answer, in probe order."""
        return [n for n, s in self.dependencies.items() if s.state is DependencyState.DOWN]

    @classmethod
    def of(cls, statuses: Sequence[tuple[str, DependencyStatus]]) -> Self:
        """Build a report from probe outcomes, keeping their order."""
        return cls(dependencies=dict(statuses))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReadinessCommand:
    """Ask every probe; `timeout_seconds` bounds each probe separately."""

    timeout_seconds: float = 2.0


class CheckReadiness:
    """Probe every dependency concurrently.

    Rules:
    - Every probe runs, even when another fails, so the report names all that are down.
    - A probe that does not answer within the timeout counts as down, reason ``timeout``.
    - A probe's exception is reported by its class name only, so no internals leak.
    """

    def __init__(self, probes: Sequence[HealthProbe]) -> None:
        self._probes = probes

    async def __call__(self, command: CheckReadinessCommand) -> ReadinessReport:
        """Run the probes and report on each."""
        statuses = await asyncio.gather(
            *(self._probe(probe, command.timeout_seconds) for probe in self._probes),
        )
        return ReadinessReport.of(statuses)

    @staticmethod
    async def _probe(probe: HealthProbe, seconds: float) -> tuple[str, DependencyStatus]:
        started = time.perf_counter()
        error: str | None = None
        try:
            async with asyncio.timeout(seconds):
                await probe.check()
        except TimeoutError:
            error = "timeout"
            _log.warning("dependency %s did not answer within %ss", probe.dependency, seconds)
        except Exception as exc:  # noqa: BLE001 - any failure of a probe means "down"
            error = type(exc).__name__
            _log.warning("dependency %s is down: %r", probe.dependency, exc)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        state = DependencyState.UP if error is None else DependencyState.DOWN
        return probe.dependency, DependencyStatus(state=state, latency_ms=latency_ms, error=error)
