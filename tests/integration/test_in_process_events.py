"""Embedded mode: the API process relays the outbox and runs the handlers itself."""

import asyncio
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from application.articles.ports import ArticleReader
from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from entrypoints.worker.handler_table import on_event
from tests.support.event_handlers import TestHandlers

pytestmark = pytest.mark.integration


async def test_a_write_reaches_its_handler_once_after_the_commit(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    handled: list[tuple[str, str]] = []
    failures_left = [1]

    class RememberTitles(EventHandler):
        def __init__(self, articles: ArticleReader) -> None:
            self._articles = articles

        async def __call__(self, event: ReceivedEvent) -> None:
            if failures_left[0]:
                failures_left[0] -= 1
                raise RuntimeError("a transient failure, retried")
            view = await self._articles.by_slug(event.payload["slug"], viewer=None)
            assert view is not None, "the handler runs after the commit, so the article is there"
            handled.append((event.event_id, view.title))

    settings = with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(tmp_path),
                "OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
                "KAFKA_CONSUMER_RETRY_BASE_SECONDS": "0.01",
            },
            env_file=None,
        )
    )
    handlers = TestHandlers(
        on_event("article.published", consumer="remember-titles", handler=RememberTitles)
    )
    container = make_container(settings, handlers)
    async with AsyncTestClient(create_app(container, settings)) as client:
        name = f"e{uuid.uuid4().hex[:8]}"
        registered = await client.post(
            "/api/users",
            json={"user": {"username": name, "email": f"{name}@t.io", "password": "password123"}},
        )
        headers = {"Authorization": f"Token {registered.json()['user']['token']}"}
        created = await client.post(
            "/api/articles",
            json={"article": {"title": "Embedded", "description": "d", "body": "b"}},
            headers=headers,
        )
        assert created.status_code == 201
        async with asyncio.timeout(10):
            while not handled:  # noqa: ASYNC110 - a handler fills the list
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    assert [title for _, title in handled] == ["Embedded"]
