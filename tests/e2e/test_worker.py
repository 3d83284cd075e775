"""`portico worker` and `portico scheduler` as processes: they work, and stop cleanly."""

import asyncio
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from adapters.system.uuid7 import Uuid7Generator
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests
from tests.support.server import PORTICO, clean_env, run_portico

pytestmark = pytest.mark.e2e


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PORTICO, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], fragment: str, within: float = 30) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + within
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if fragment in line:
            return "".join(seen)
    raise AssertionError(f"{fragment!r} never appeared:\n{''.join(seen)}")


async def write_events(url: str, count: int) -> None:
    engine = engine_for_tests(url)
    try:
        async with engine.connect() as connection:
            ids = Uuid7Generator()
            uow = SqlAlchemyUnitOfWork(connection, ids)
            users = SqlUserRepository(connection)
            async with uow:
                for _ in range(count):
                    name = f"w{uuid.uuid4().hex[:10]}"
                    user = User.register(
                        id=UserId(ids.new_id()),
                        username=Username(name),
                        email=Email.parse(f"{name}@t.io"),
                        password_hash="h",
                        now=datetime.now(UTC),
                    )
                    await users.add(user)
                    uow.track(user)
                await uow.commit()
    finally:
        await engine.dispose()


def unsent(url: str) -> int:
    engine = sa.create_engine(to_psycopg_url(url), poolclass=sa.NullPool)
    with engine.connect() as connection:
        count = connection.scalar(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    engine.dispose()
    return int(count or 0)


async def test_the_worker_relays_then_stops_on_sigterm_with_status_0(
    clean_database: Any, migrated_url: str, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=migrated_url, DATA_DIR=str(tmp_path))
    await write_events(migrated_url, 25)
    assert unsent(migrated_url) == 25
    worker = start(["worker", "--no-consumers", "--no-jobs"], env, tmp_path)
    try:
        wait_for_line(worker, "worker started: relay")
        await asyncio.sleep(1)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
        assert worker.returncode == 0, output
    finally:
        if worker.poll() is None:
            worker.kill()
    assert unsent(migrated_url) == 0
    status = run_portico("outbox", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0
    assert "pending  0" in status.stdout


def test_the_scheduler_enqueues_its_jobs_and_stops_on_sigterm_with_status_0(
    migrated_url: str, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=migrated_url, DATA_DIR=str(tmp_path))
    scheduler = start(["scheduler"], env, tmp_path)
    try:
        output = wait_for_line(scheduler, "enqueued purge_sent_events")
        assert "enqueued purge_ended_credentials" in output
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=20) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()


def test_of_two_schedulers_one_leads_and_the_other_takes_over_when_it_stops(
    migrated_url: str, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=migrated_url, DATA_DIR=str(tmp_path))
    leader = start(["scheduler"], env, tmp_path)
    follower = None
    try:
        wait_for_line(leader, "this scheduler leads")
        follower = start(["scheduler"], env, tmp_path)
        waited = wait_for_line(follower, "another scheduler leads; standing by")
        assert "enqueued" not in waited
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(timeout=20) == 0
        taken_over = wait_for_line(follower, "enqueued purge_sent_events", within=30)
        assert "this scheduler leads" in taken_over
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=20) == 0
    finally:
        for process in (leader, follower):
            if process is not None and process.poll() is None:
                process.kill()


def test_a_worker_with_nothing_to_run_is_a_usage_error(tmp_path: Path) -> None:
    result = run_portico(
        "worker", "--no-relay", "--no-consumers", "--no-jobs", env=clean_env(), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "nothing to run" in result.stderr
