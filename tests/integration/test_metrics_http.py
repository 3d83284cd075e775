"""`GET /metrics` in-process, on the real container and PostgreSQL: who may read it, and what
the requests, sign-ins, cache and rate limits it saw look like in the text format."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.http_app import build_app, register

pytestmark = pytest.mark.integration

TOKEN = "m" * 40
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(client: AsyncTestClient[Litestar]) -> str:
    response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


@pytest.fixture
async def client(migrated_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = build_app(
        migrated_url,
        METRICS_MODE="token",
        METRICS_TOKEN=TOKEN,
        RATE_LIMIT_REGISTRATIONS_PER_IP="2",
        CACHE_CONTENT="true",
        JWT_SECRET="j" * 48,
    )
    async with AsyncTestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer " + "x" * 40},
        {"Authorization": f"Token {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
    ids=["missing", "wrong", "other-scheme", "longer"],
)
async def test_without_the_token_it_is_401_in_the_envelope(
    client: AsyncTestClient[Litestar], headers: dict[str, str]
) -> None:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing or wrong"]}}


async def test_requests_are_counted_by_route_template_method_and_status(
    client: AsyncTestClient[Litestar],
) -> None:
    before = await scrape(client)
    slug = f"no-such-{uuid.uuid4().hex}"
    for _ in range(3):
        assert (await client.get(f"/api/articles/{slug}")).status_code == 404
    for _ in range(2):
        assert (await client.get("/api/tags")).status_code == 200
    assert (await client.get(f"/scanner/{uuid.uuid4().hex}")).status_code == 404
    after = await scrape(client)

    def delta(route: str, status: str, method: str = "GET") -> float:
        labels = {"route": route, "method": method, "status": status}
        return value(after, "portico_http_requests_total", **labels) - value(
            before, "portico_http_requests_total", **labels
        )

    assert delta("/api/articles/{slug}", "404") == 3
    assert delta("/api/tags", "200") == 2
    assert delta("unmatched", "404") == 1
    assert delta("/metrics", "200") == 1, "the scrape before counts, the one reading does not yet"
    assert not any(slug in line for line in after.splitlines()), "a raw path became a label"
    count = value(
        after, "portico_http_request_duration_seconds_count", route="/api/tags", method="GET"
    ) - value(
        before, "portico_http_request_duration_seconds_count", route="/api/tags", method="GET"
    )
    assert count == 2
    assert value(after, "portico_http_requests_in_flight") == 1, "the scrape itself"


async def test_sign_ins_cache_reads_and_rate_limits_are_counted(
    client: AsyncTestClient[Litestar],
) -> None:
    before = await scrape(client)
    name = f"m{uuid.uuid4().hex[:10]}"
    await register(client, name)
    login = {"user": {"email": f"{name}@test.com", "password": "password123"}}
    assert (await client.post("/api/users/login", json=login)).status_code == 200
    wrong = {"user": {"email": f"{name}@test.com", "password": "wrong-password"}}
    for _ in range(2):
        assert (await client.post("/api/users/login", json=wrong)).status_code == 401
    for _ in range(2):
        assert (await client.get("/api/articles?limit=7")).status_code == 200
    await register(client, "x" + name)  # the second of RATE_LIMIT_REGISTRATIONS_PER_IP=2
    third = {"user": {"username": "y" + name, "email": f"y{name}@t.io", "password": "p" * 12}}
    assert (await client.post("/api/users", json=third)).status_code == 429
    after = await scrape(client)

    def delta(name: str, **labels: Any) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("portico_logins_total", outcome="success") == 1
    assert delta("portico_logins_total", outcome="failure") == 2
    assert ("portico_logins_total", frozenset({("outcome", "locked")})) in samples(after)
    assert delta("portico_cache_lookups_total", cache="content", result="miss") >= 1
    assert delta("portico_cache_lookups_total", cache="content", result="hit") >= 1
    assert delta("portico_rate_limited_total", rule="registration") == 1


async def test_the_pool_and_the_backlogs_are_in_every_scrape(
    client: AsyncTestClient[Litestar],
) -> None:
    assert (await client.get("/api/tags")).status_code == 200
    text = await scrape(client)
    families = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "portico_db_pool_size",
        "portico_db_pool_checked_out",
        "portico_db_pool_capacity",
        "portico_outbox_backlog",
        "portico_outbox_oldest_unsent_age_seconds",
        "portico_jobs_queue_depth",
    } <= families
    assert value(text, "portico_db_pool_capacity") > 0


async def test_off_there_is_no_route(migrated_url: str) -> None:
    async with AsyncTestClient(build_app(migrated_url)) as client:
        response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 404
    assert response.json() == {"errors": {"route": ["not found"]}}


async def test_in_port_mode_the_api_port_has_no_route(migrated_url: str) -> None:
    from tests.support.network import free_port  # noqa: PLC0415

    app = build_app(migrated_url, METRICS_MODE="port", METRICS_PORT=str(free_port()))
    async with AsyncTestClient(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404
