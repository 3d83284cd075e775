"""Articles against `portico serve` on PostgreSQL: ownership (BOLA), roles, bad input, cache."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

FORBIDDEN_ARTICLE = {"errors": {"article": ["forbidden"]}}
FORBIDDEN_COMMENT = {"errors": {"comment": ["forbidden"]}}


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("content-data")
    return clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(data_dir),
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )


@pytest.fixture(scope="module")
def server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with portico_server(free_port(), env, tmp_path_factory.mktemp("content")) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


class Caller:
    """A registered user and the headers that make requests theirs."""

    def __init__(self, api: httpx.Client) -> None:
        self.name = f"u{uuid.uuid4().hex[:12]}"
        body = {
            "user": {
                "username": self.name,
                "email": f"{self.name}@test.com",
                "password": "password123",
            }
        }
        registered = api.post("/api/users", json=body)
        assert registered.status_code == 201, registered.text
        self.headers = {"Authorization": f"Token {registered.json()['user']['token']}"}


def publish(api: httpx.Client, author: Caller, **fields: Any) -> dict[str, Any]:
    article = {"title": "Owned", "description": "d", "body": "b", "tagList": ["own"], **fields}
    created = api.post("/api/articles", json={"article": article}, headers=author.headers)
    assert created.status_code == 201, created.text
    return dict(created.json()["article"])


def comment(api: httpx.Client, author: Caller, slug: str, body: str = "hi") -> int:
    created = api.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=author.headers
    )
    assert created.status_code == 201, created.text
    return int(created.json()["comment"]["id"])


def test_only_the_author_changes_or_deletes_an_article(api: httpx.Client) -> None:
    alice, mallory = Caller(api), Caller(api)
    slug = publish(api, alice)["slug"]
    path = f"/api/articles/{slug}"
    edit = {"article": {"title": "Hijacked", "body": "pwned", "tagList": []}}
    assert api.put(path, json=edit, headers=mallory.headers).json() == FORBIDDEN_ARTICLE
    assert api.delete(path, headers=mallory.headers).status_code == 403
    article = api.get(path).json()["article"]
    assert (article["title"], article["body"], article["tagList"]) == ("Owned", "b", ["own"])
    assert api.delete(path, headers=alice.headers).status_code == 204
    assert api.get(path).json() == {"errors": {"article": ["not found"]}}


def test_a_comment_goes_by_its_author_or_a_moderator_only(
    api: httpx.Client, env: dict[str, str], tmp_path: Path
) -> None:
    alice, bob, moderator = Caller(api), Caller(api), Caller(api)
    changed = run_portico("users", "set-role", moderator.name, "moderator", env=env, cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    slug = publish(api, alice)["slug"]
    bobs = comment(api, bob, slug, "bob was here")
    path = f"/api/articles/{slug}/comments/{bobs}"
    assert api.delete(path, headers=alice.headers).json() == FORBIDDEN_COMMENT
    assert [c["body"] for c in api.get(f"/api/articles/{slug}/comments").json()["comments"]] == [
        "bob was here"
    ]
    assert api.delete(path, headers=moderator.headers).status_code == 204
    assert api.get(f"/api/articles/{slug}/comments").json() == {"comments": []}
    own = comment(api, bob, slug)
    assert (
        api.delete(f"/api/articles/{slug}/comments/{own}", headers=bob.headers).status_code == 204
    )
    moderating_an_article = api.delete(f"/api/articles/{slug}", headers=moderator.headers)
    assert moderating_an_article.json() == FORBIDDEN_ARTICLE


def test_a_comment_id_only_reaches_its_own_article(api: httpx.Client) -> None:
    alice = Caller(api)
    first, second = publish(api, alice)["slug"], publish(api, alice)["slug"]
    assert first != second
    kept = comment(api, alice, first)
    for slug, comment_id in ((second, kept), (first, 0), (first, 10**30)):
        gone = api.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=alice.headers)
        assert gone.status_code == 404
        assert gone.json() == {"errors": {"comment": ["not found"]}}
    assert len(api.get(f"/api/articles/{first}/comments").json()["comments"]) == 1


def test_favorites_and_the_feed_belong_to_the_caller(api: httpx.Client) -> None:
    alice, bob, carol = Caller(api), Caller(api), Caller(api)
    slug = publish(api, alice)["slug"]
    favored = api.post(f"/api/articles/{slug}/favorite", headers=bob.headers).json()["article"]
    assert (favored["favorited"], favored["favoritesCount"]) == (True, 1)
    seen_by_carol = api.get(f"/api/articles/{slug}", headers=carol.headers).json()["article"]
    assert (seen_by_carol["favorited"], seen_by_carol["favoritesCount"]) == (False, 1)
    undone = api.delete(f"/api/articles/{slug}/favorite", headers=carol.headers).json()
    assert undone["article"]["favoritesCount"] == 1, "carol cannot take back bob's favorite"
    assert api.get("/api/articles/feed", headers=carol.headers).json()["articlesCount"] == 0
    assert api.post(f"/api/profiles/{alice.name}/follow", headers=bob.headers).status_code == 200
    feed = api.get("/api/articles/feed", headers=bob.headers).json()
    assert [a["slug"] for a in feed["articles"]] == [slug]
    assert api.get("/api/articles/feed", headers=carol.headers).json()["articlesCount"] == 0


@pytest.mark.parametrize(
    ("query", "key"),
    [("limit=101", "limit"), ("limit=-1", "limit"), ("offset=-1", "offset"), ("limit=x", "limit")],
)
def test_out_of_range_pages_are_422(api: httpx.Client, query: str, key: str) -> None:
    response = api.get(f"/api/articles?{query}")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [key]


def test_hostile_input_gets_a_4xx_and_changes_nothing(api: httpx.Client) -> None:
    alice = Caller(api)
    slug = publish(api, alice)["slug"]
    path = f"/api/articles/{slug}"
    null_tags = api.put(path, json={"article": {"tagList": None}}, headers=alice.headers)
    assert null_tags.status_code == 422
    assert list(null_tags.json()["errors"]) == ["tagList"]
    cases = [
        api.post("/api/articles", json={"article": {"title": "t"}}, headers=alice.headers),
        api.post(
            "/api/articles",
            json={"article": {"title": "x" * 300, "description": "d", "body": "b"}},
            headers=alice.headers,
        ),
        api.post(
            "/api/articles",
            json={"article": {"title": "t", "description": "d", "body": "b", "tagList": "a"}},
            headers=alice.headers,
        ),
        api.post(f"{path}/comments", json={"comment": {"body": "\x00"}}, headers=alice.headers),
        api.put(path, json={"article": {"slug": "mine"}}, headers=alice.headers),
    ]
    assert [case.status_code for case in cases] == [422] * len(cases)
    assert api.get(path).json()["article"]["tagList"] == ["own"]
    for weird in ("..%2F..%2Fetc", "a" * 300, "%E2%80%AE"):
        assert api.get(f"/api/articles/{weird}").status_code == 404
        listed = api.get(f"/api/articles?tag={weird}&author={weird}")
        assert (listed.status_code, listed.json()["articlesCount"]) == (200, 0)
    nul_slug = api.get("/api/articles/%00")
    assert (nul_slug.status_code, list(nul_slug.json()["errors"])) == (422, ["slug"])
    nul_query = api.get("/api/articles?tag=%00&author=%00")
    assert (nul_query.status_code, list(nul_query.json()["errors"])) == (422, ["tag"])


def test_anonymous_reads_see_every_write_at_once(api: httpx.Client) -> None:
    alice, bob = Caller(api), Caller(api)
    slug = publish(api, alice, tagList=[f"fresh-{alice.name}"])["slug"]
    for _ in range(2):
        assert api.get(f"/api/articles/{slug}").json()["article"]["favoritesCount"] == 0
        assert api.get(f"/api/articles?author={alice.name}").json()["articlesCount"] == 1
    api.post(f"/api/articles/{slug}/favorite", headers=bob.headers)
    assert api.get(f"/api/articles/{slug}").json()["article"]["favoritesCount"] == 1
    api.put(
        "/api/user", json={"user": {"bio": "new bio"}}, headers=alice.headers
    ).raise_for_status()
    listed = api.get(f"/api/articles?author={alice.name}").json()["articles"]
    assert listed[0]["author"]["bio"] == "new bio"
    api.delete(f"/api/articles/{slug}", headers=alice.headers).raise_for_status()
    assert f"fresh-{alice.name}" not in api.get("/api/tags").json()["tags"]
    assert api.get(f"/api/articles?author={alice.name}").json()["articlesCount"] == 0
