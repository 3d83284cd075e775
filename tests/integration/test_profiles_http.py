"""The profiles routes in-process on PostgreSQL: the follow rules and their envelopes."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from tests.support.http_app import register

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = with_signing_secret(
        load_settings({"DATABASE_URL": migrated_url, "DATA_DIR": str(tmp_path)}, env_file=None)
    )
    container = make_container(settings)
    async with AsyncTestClient(create_app(container, settings)) as client:
        yield client
    await container.close()


async def test_following_oneself_is_forbidden_and_unfollowing_oneself_harmless(
    client: AsyncTestClient[Litestar],
) -> None:
    ada = {"Authorization": f"Token {await register(client, 'ada')}"}
    followed = await client.post("/api/profiles/ada/follow", headers=ada)
    assert (followed.status_code, followed.json()) == (
        403,
        {"errors": {"profile": ["cannot be yourself"]}},
    )
    unfollowed = await client.delete("/api/profiles/ada/follow", headers=ada)
    assert unfollowed.status_code == 200, unfollowed.text
    assert unfollowed.json()["profile"]["following"] is False
