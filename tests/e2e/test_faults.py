"""A database or Redis restart under load: no 500, nothing lost, and recovery by itself.

One `portico serve` runs on a PostgreSQL and a Redis of the test's own (never the
machine's shared servers), under a bounded load of cached anonymous reads, reads that need
the database, and writes. Each server is restarted in the middle of the load; the test
then checks every answer against the window in which the server was down:

- no answer is a 500, and a 503 carries `Retry-After` and the error envelope, and only
  comes while the database is down (or within `RECOVERY_BOUND_SECONDS` of its return);
- the cached reads never fail, the database being down or not;
- every acknowledged write is stored, and nothing that was refused is;
- each route answers again within `RECOVERY_BOUND_SECONDS`, and the outage and the
  recovery are logged once each;
- a socket connected before a Redis restart receives a notification sent after it.
"""

import asyncio
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.faults import (
    Answer,
    Load,
    Outage,
    PrivatePostgres,
    PrivateRedis,
    private_postgres,
    private_redis,
)
from tests.support.live_clients import Account, authenticate, next_message
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

DOWN_FOR_SECONDS = 1.5
RECOVERY_BOUND_SECONDS = 6.0
"""Generous: the pool reconnects on the next request, and this allows a slow machine."""
LOAD_BEFORE_SECONDS = 1.0
LOAD_AFTER_SECONDS = 2.5
CACHED = ("tags", "article")
NEEDS_DATABASE = ("user", "comments", "comment")
OUTCOME_UNKNOWN = "may or may not have been saved"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    # Outside pytest's own temporary root, which pytest keeps private to its user: the
    # embedded server runs as another user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="portico-faults-"))
    root.chmod(0o755)
    try:
        with (
            private_postgres(root / "postgres") as postgres,
            private_redis(root / "redis") as cache,
        ):
            yield postgres, cache
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def api(
    servers: tuple[PrivatePostgres, PrivateRedis], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    postgres, cache = servers
    cwd = tmp_path_factory.mktemp("api")
    env = clean_env(
        DATA_DIR=str(cwd / "data"),
        DATABASE_URL=postgres.url,
        REDIS_URL=cache.url,
        RATE_LIMIT_COMMENTS_PER_USER="1000000",
        CACHE_CONTENT_TTL_SECONDS="600",
        APP_WORKERS="1",
    )
    migrated = run_portico("db", "upgrade", env=env, cwd=cwd)
    assert migrated.returncode == 0, migrated.stderr
    with portico_server(free_port(), env, cwd) as running:
        yield running


def _loops(slug: str, token: str) -> dict[str, Any]:
    auth = {"Authorization": f"Token {token}"}

    async def tags(client: httpx.AsyncClient, _: int) -> tuple[httpx.Response, str]:
        return await client.get("/api/tags"), ""

    async def article(client: httpx.AsyncClient, _: int) -> tuple[httpx.Response, str]:
        return await client.get(f"/api/articles/{slug}"), ""

    async def user(client: httpx.AsyncClient, _: int) -> tuple[httpx.Response, str]:
        return await client.get("/api/user", headers=auth), ""

    async def comments(client: httpx.AsyncClient, _: int) -> tuple[httpx.Response, str]:
        return await client.get(f"/api/articles/{slug}/comments", headers=auth), ""

    async def comment(client: httpx.AsyncClient, number: int) -> tuple[httpx.Response, str]:
        key = f"fault-{number}-{uuid.uuid4().hex[:8]}"
        body = {"comment": {"body": key}}
        return await client.post(f"/api/articles/{slug}/comments", json=body, headers=auth), key

    return {
        "tags": tags,
        "article": article,
        "user": user,
        "comments": comments,
        "comment": comment,
    }


async def _prepared(client: httpx.AsyncClient) -> tuple[str, str]:
    """A user, an article with a tag, and the cached reads primed; the slug and token."""
    account = await Account.register(client)
    body = {
        "article": {
            "title": f"Faults {uuid.uuid4().hex[:6]}",
            "description": "d",
            "body": "b",
            "tagList": ["faults"],
        }
    }
    published = await client.post(
        "/api/articles", json=body, headers={"Authorization": f"Token {account.token}"}
    )
    assert published.status_code == 201, published.text
    slug = published.json()["article"]["slug"]
    for path in ("/api/tags", f"/api/articles/{slug}"):
        assert (await client.get(path)).status_code == 200
    return slug, account.token


async def _under_load(api: RunningServer, restart: Any) -> tuple[Load, Outage]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        slug, token = await _prepared(client)
        load = Load(client)
        stop = asyncio.Event()
        running = asyncio.create_task(load.run(_loops(slug, token), until=stop))
        await asyncio.sleep(LOAD_BEFORE_SECONDS)
        outage: Outage = await asyncio.to_thread(restart, down_for=DOWN_FOR_SECONDS)
        await asyncio.sleep(LOAD_AFTER_SECONDS)
        stop.set()
        await running
    return load, outage


def _stored_comment_bodies(postgres: PrivatePostgres) -> set[str]:
    with psycopg.connect(postgres.url) as connection:
        rows = connection.execute("SELECT body FROM comments WHERE body LIKE 'fault-%'")
        return {row[0] for row in rows}


def _assert_unavailable_answers(answers: list[Answer], outage: Outage) -> None:
    for answer in answers:
        assert answer.status != 500, answer.body
        assert answer.status in (200, 201, 503), (answer.name, answer.status, answer.body)
        if answer.status != 503:
            continue
        assert answer.retry_after is not None, answer
        assert answer.retry_after.isdigit(), answer
        assert set(json.loads(answer.body)) == {"errors"}, answer.body
        assert answer.answered >= outage.began, ("503 before the outage", answer)
        assert answer.sent <= outage.ended + RECOVERY_BOUND_SECONDS, ("503 after it", answer)


def _assert_recovered(load: Load, outage: Outage, names: tuple[str, ...]) -> None:
    for name in names:
        after = [a for a in load.named(name) if a.sent >= outage.ended and a.status < 300]
        assert after, f"{name} never answered again after the outage"
        assert after[0].answered - outage.ended <= RECOVERY_BOUND_SECONDS, after[0]


def _count(pattern: str, log: str) -> int:
    return len(re.findall(pattern, log))


def test_a_postgres_restart_costs_no_500_and_loses_no_write(
    servers: tuple[PrivatePostgres, PrivateRedis], api: RunningServer
) -> None:
    postgres, _ = servers
    load, outage = asyncio.run(_under_load(api, postgres.restart))

    assert not load.transport_errors
    _assert_unavailable_answers(load.answers, outage)
    for name in CACHED:
        assert {a.status for a in load.named(name)} == {200}, load.named(name)
    _assert_recovered(load, outage, NEEDS_DATABASE)

    writes = load.named("comment")
    acknowledged = {a.key for a in writes if a.status == 201}
    unknown = {a.key for a in writes if a.status == 503 and OUTCOME_UNKNOWN in a.body}
    stored = _stored_comment_bodies(postgres)
    assert acknowledged <= stored
    assert stored - acknowledged <= unknown

    log = api.log()
    assert _count(r"WARNING.*database unavailable", log) == 1, log
    assert _count(r"database available again", log) == 1, log
    assert "Traceback" not in log, log
    assert " 500 " not in log


def test_a_redis_restart_costs_no_500_and_sockets_hear_again(
    servers: tuple[PrivatePostgres, PrivateRedis], api: RunningServer
) -> None:
    _, cache = servers

    async def scenario() -> tuple[Load, Outage, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            listener = await Account.register(client)
            follower = await Account.register(client)
            ws, _ = await authenticate(api.base_url, listener.token, ticket=True)
            try:
                load, outage = await _under_load(api, cache.restart)
                followed = await client.post(
                    f"/api/profiles/{listener.name}/follow",
                    headers={"Authorization": f"Token {follower.token}"},
                )
                assert followed.status_code == 200, followed.text
                heard = await next_message(ws, "new_notification", within=RECOVERY_BOUND_SECONDS)
            finally:
                await ws.close()
        return load, outage, heard

    load, outage, heard = asyncio.run(scenario())

    assert not load.transport_errors
    _assert_unavailable_answers(load.answers, outage)
    assert {a.status for a in load.answers} <= {200, 201}, load.by_status()
    assert heard["data"]["kind"] == "new_follower", heard
    log = api.log()
    assert _count(r"realtime: Redis pub/sub connection lost", log) <= 1, log
    assert "Traceback" not in log, log
