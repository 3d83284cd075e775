"""The text format of a scrape: this process's metrics or every process's, and the backlogs.

Like `metrics`, it imports prometheus-client only when a scrape is rendered.
"""

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text format every Prometheus server reads (prometheus-client's 0.0.4 format)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlogs:
    """What waits in the stores every process shares, read when scraped; None: unknown."""

    outbox_unsent: int | None = None
    outbox_oldest_age_seconds: float | None = None
    job_queue_depth: int | None = None


def text_format(
    registry: "CollectorRegistry", multiprocess_dir: Path | None, backlogs: Backlogs
) -> bytes:
    """`registry`'s metrics, or those every process wrote to `multiprocess_dir`; the backlogs.

    A backlog that could not be read (None) is left out.
    """
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    source: Collector = registry
    if multiprocess_dir is not None:
        _forget_dead_processes(multiprocess_dir)
        source = CollectorRegistry()
        MultiProcessCollector(source, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
    return generate_latest(_Joined(source, _backlog_families(backlogs)))


class _Joined:
    """A collector yielding another's metrics, then some more."""

    def __init__(self, source: "Collector", more: "Iterable[Metric]") -> None:
        self._source = source
        self._more = more

    def collect(self) -> "Iterator[Metric]":
        yield from self._source.collect()
        yield from self._more


def _backlog_families(backlogs: Backlogs) -> "list[Metric]":
    from prometheus_client.metrics_core import GaugeMetricFamily  # noqa: PLC0415

    readings = (
        (
            "portico_outbox_backlog",
            "Outbox events not yet published (counted up to a cap; see docs).",
            backlogs.outbox_unsent,
        ),
        (
            "portico_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox event not yet published; 0 when none waits.",
            backlogs.outbox_oldest_age_seconds,
        ),
        (
            "portico_jobs_queue_depth",
            "Background jobs enqueued and not finished, across every worker.",
            backlogs.job_queue_depth,
        ),
    )
    return [
        GaugeMetricFamily(name, documentation, value=value)
        for name, documentation, value in readings
        if value is not None
    ]


def _forget_dead_processes(directory: Path) -> None:
    """Drop the gauges of processes that are gone, so "now" figures count live ones only."""
    from prometheus_client.multiprocess import mark_process_dead  # noqa: PLC0415

    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
