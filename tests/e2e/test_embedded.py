"""`portico` with nothing configured: an embedded PostgreSQL that comes and goes with it."""

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from adapters.embedded_postgres.server import EmbeddedPostgres
from tests.support.network import free_port
from tests.support.postgres import table_names
from tests.support.server import PORTICO, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and str(data_dir) in cmdline:
            found.append(process)
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_serve_with_nothing_configured(tmp_path: Path, stop_signal: signal.Signals) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(DATA_DIR=str(data_dir))
    migrated = run_portico("db", "upgrade", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert postgres_processes(data_dir) == []

    with portico_server(free_port(), env, tmp_path, "--workers", "2") as running:
        ready = httpx.get(f"{running.base_url}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["dependencies"]["database"]["status"] == "up"
        assert postgres_processes(data_dir)
        code, seconds = running.stop(stop_signal)

    assert code == 0, running.log()
    assert seconds < 10
    assert postgres_processes(data_dir) == []


def test_upgrade_then_downgrade_base_leaves_an_empty_embedded_schema(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(DATA_DIR=str(data_dir))
    assert run_portico("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    with EmbeddedPostgres(data_dir / "postgres") as embedded:
        assert "outbox" in table_names(embedded.start())
    downgraded = run_portico("db", "downgrade", "base", env=env, cwd=tmp_path)
    assert downgraded.returncode == 0, downgraded.stderr
    with EmbeddedPostgres(data_dir / "postgres") as embedded:
        assert table_names(embedded.start()) == set()
    assert postgres_processes(data_dir) == []


def test_sigterm_during_start_up_still_stops_the_embedded_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(DATA_DIR=str(data_dir))
    # Migrated, so that serve's start-up waits on nothing but the signal.
    assert run_portico("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    process = subprocess.Popen(
        [PORTICO, "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not postgres_processes(data_dir) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert postgres_processes(data_dir), "the embedded database never started"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while postgres_processes(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert postgres_processes(data_dir) == []
