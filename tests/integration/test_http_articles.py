"""The articles routes in-process on PostgreSQL, with the content cache in Redis, up or down."""

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from tests.support.network import closed_port

pytestmark = pytest.mark.integration


@pytest.fixture(params=["redis-up", "redis-down"])
async def client(
    request: pytest.FixtureRequest, clean_database: Any, migrated_url: str, tmp_path: Any
) -> AsyncIterator[AsyncTestClient[Any]]:
    redis_url = (
        request.getfixturevalue("redis_url")
        if request.param == "redis-up"
        else f"redis://127.0.0.1:{closed_port()}/0"
    )
    settings = with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(tmp_path),
                "REDIS_URL": redis_url,
                "APP_WORKERS": "4",
            },
            env_file=None,
        )
    )
    container = make_container(settings)
    async with AsyncTestClient(create_app(container, settings)) as client:
        yield client


async def test_reads_are_right_after_writes_whether_or_not_redis_answers(
    client: AsyncTestClient[Any], caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    name = f"c{uuid.uuid4().hex[:10]}"
    registered = await client.post(
        "/api/users",
        json={"user": {"username": name, "email": f"{name}@test.com", "password": "password123"}},
    )
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Token {registered.json()['user']['token']}"}
    tag = f"t-{name}"
    with caplog.at_level(logging.WARNING):
        created = await client.post(
            "/api/articles",
            json={"article": {"title": "T", "description": "D", "body": "B", "tagList": [tag]}},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        slug = created.json()["article"]["slug"]
        for _ in range(2):
            assert (await client.get(f"/api/articles/{slug}")).json()["article"]["body"] == "B"
            assert tag in (await client.get("/api/tags")).json()["tags"]
            listed = (await client.get(f"/api/articles?tag={tag}")).json()
            assert listed["articlesCount"] == 1
        edited = await client.put(
            f"/api/articles/{slug}", json={"article": {"body": "B2"}}, headers=headers
        )
        assert edited.status_code == 200
        assert (await client.get(f"/api/articles/{slug}")).json()["article"]["body"] == "B2"
        assert (await client.delete(f"/api/articles/{slug}", headers=headers)).status_code == 204
        assert (await client.get(f"/api/articles/{slug}")).status_code == 404
        assert tag not in (await client.get("/api/tags")).json()["tags"]
    unavailable = [r for r in caplog.records if "content cache unavailable" in r.getMessage()]
    assert bool(unavailable) is (request.node.callspec.params["client"] == "redis-down")
