"""What the Prometheus adapter adds to the ports' contract: HTTP series, series known in
advance, the scrape-time backlogs, and several processes counting into one directory."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.prometheus.exposition import Backlogs
from adapters.prometheus.metrics import PrometheusMetrics
from application.common.ports.metrics import LoginOutcome

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_known_label_sets_exist_at_zero_before_anything_happens() -> None:
    found = samples(PrometheusMetrics().exposition(Backlogs()).decode())
    for outcome in ("success", "failure", "locked"):
        assert found[key("portico_logins_total", outcome=outcome)] == 0
    for channel in ("in_app", "email", "sms", "push"):
        for outcome in ("sent", "skipped", "failed"):
            labels = {"channel": channel, "outcome": outcome}
            assert found[key("portico_notification_deliveries_total", **labels)] == 0
    for result in ("hit", "miss", "unavailable"):
        assert found[key("portico_cache_lookups_total", cache="content", result=result)] == 0
    for channel in ("websocket", "sse"):
        assert found[key("portico_live_connections", channel=channel)] == 0


def test_requests_count_by_route_method_and_status_with_their_latency() -> None:
    metrics = PrometheusMetrics()
    metrics.request_served("/api/articles/{slug}", "GET", 200, 0.003)
    metrics.request_served("/api/articles/{slug}", "GET", 200, 0.2)
    metrics.request_served("/api/articles/{slug}", "GET", 404, 0.001)
    metrics.request_served("unmatched", "BREW", 405, 0.001)
    found = samples(metrics.exposition(Backlogs()).decode())
    route = "/api/articles/{slug}"
    assert found[key("portico_http_requests_total", route=route, method="GET", status="200")] == 2
    assert found[key("portico_http_requests_total", route=route, method="GET", status="404")] == 1
    assert found[
        key("portico_http_requests_total", route="unmatched", method="other", status="405")
    ]
    duration = "portico_http_request_duration_seconds"
    assert found[key(f"{duration}_count", route=route, method="GET")] == 3
    assert found[key(f"{duration}_bucket", route=route, method="GET", le="0.005")] == 2
    assert found[key(f"{duration}_sum", route=route, method="GET")] == pytest.approx(0.204)


def test_the_backlogs_read_for_a_scrape_are_shown_and_unknown_ones_left_out() -> None:
    metrics = PrometheusMetrics()
    shown = samples(
        metrics.exposition(
            Backlogs(outbox_unsent=12, outbox_oldest_age_seconds=3.5, job_queue_depth=4)
        ).decode()
    )
    assert shown[key("portico_outbox_backlog")] == 12
    assert shown[key("portico_outbox_oldest_unsent_age_seconds")] == 3.5
    assert shown[key("portico_jobs_queue_depth")] == 4
    unknown = samples(metrics.exposition(Backlogs(outbox_unsent=0)).decode())
    assert unknown[key("portico_outbox_backlog")] == 0
    assert key("portico_jobs_queue_depth") not in unknown


def test_instances_in_one_process_keep_their_own_counts() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.login_attempted(LoginOutcome.SUCCESS)
    found = samples(second.exposition(Backlogs()).decode())
    assert found[key("portico_logins_total", outcome="success")] == 0


def test_a_process_not_started_for_multiprocess_counting_refuses_a_directory(
    tmp_path: Path,
) -> None:
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        PrometheusMetrics(multiprocess_dir=tmp_path)


_COUNT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from adapters.prometheus.exposition import Backlogs
    from adapters.prometheus.metrics import PrometheusMetrics
    from application.common.ports.metrics import LiveChannel, LoginOutcome

    metrics = PrometheusMetrics(multiprocess_dir=Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    requests, logins = int(sys.argv[1]), int(sys.argv[2])
    for _ in range(requests):
        metrics.request_served("/api/tags", "GET", 200, 0.002)
    for _ in range(logins):
        metrics.login_attempted(LoginOutcome.FAILURE)
    metrics.live_connection_opened(LiveChannel.WEBSOCKET)
    metrics.pool_sampled(size=3, checked_out=1, capacity=10)
    if len(sys.argv) > 3:
        sys.stdout.write(metrics.exposition(Backlogs()).decode())
    """
)


def _run_counting(directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", _COUNT, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_processes_counting_into_one_directory_add_up_and_dead_ones_hold_nothing_now(
    tmp_path: Path,
) -> None:
    _run_counting(tmp_path, "7", "2")
    _run_counting(tmp_path, "5", "1")
    assert len(list(tmp_path.glob("counter_*.db"))) == 2, "each process writes its own file"
    found = samples(_run_counting(tmp_path, "0", "0", "scrape"))
    tags = {"route": "/api/tags", "method": "GET", "status": "200"}
    assert found[key("portico_http_requests_total", **tags)] == 12
    assert (
        found[key("portico_http_request_duration_seconds_count", route="/api/tags", method="GET")]
        == 12
    )
    assert found[key("portico_logins_total", outcome="failure")] == 3
    assert found[key("portico_live_connections", channel="websocket")] == 1, (
        "only the scraping process is alive: the others' connections are gone with them"
    )
    assert found[key("portico_db_pool_capacity")] == 10
    assert len(list(tmp_path.glob("gauge_live*"))) == 1, "the dead processes' gauges were dropped"
