"""Write races against `portico serve` on PostgreSQL, with one worker and with four.

Each race is a storm of real HTTP requests that reach the server at the same moment
(tests/support/storm.py: one connection each, opened first, all written in one loop), and
the server's access log must show them overlapping there. Then the documented outcome is
asserted exactly: the final state, read back over HTTP and straight from the database;
statuses from the documented set only; one outbox event per effective change; no 5xx in
any answer, and no traceback, ERROR line or 5xx access line in the server's log.

The outbox relay is off (OUTBOX_RELAY_IN_API=false), so the event rows stay in `outbox`
to be counted (a relayed row would only be marked sent; counting every row holds anyway).
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.network import free_port
from tests.support.server import clean_env, portico_server
from tests.support.write_races import (
    ARTICLE_NOT_FOUND,
    COMMENT_NOT_FOUND,
    PASSWORD,
    Race,
    Served,
    add_comment,
    article_id,
    assert_article_gone,
    assert_only,
    comment_events_on,
    events,
    publish,
    register,
    register_people,
    scalar,
    statuses,
    user_id,
)

pytestmark = pytest.mark.e2e

REFRESH_COOKIE = "refresh_token"
STORM = 20
"""Requests in a storm of identical writes."""
TRIALS = 5
"""Repeats of the races whose losing interleaving shows only now and then."""
ROUNDS = 5
"""Repeats of the delete-against-write races (ten or so requests each)."""


@pytest.fixture(scope="module")
def db(migrated_url: str) -> Iterator[sa.Engine]:
    """The database the servers write to, read directly."""
    engine = sa.create_engine(to_psycopg_url(migrated_url), poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=[1, 4], ids=["1-worker", "4-workers"])
def served(
    request: pytest.FixtureRequest, migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`portico serve --workers N`, with the auth limits out of the way and the relay off.

    The per-user write limits are raised out of the way too (the storms repeat one user's
    writes); APP_MAX_CONCURRENT_REQUESTS (16 a process) only queues the rest of a storm,
    which is fine.
    """
    workers = int(request.param)
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp(f"races-data-{workers}")),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        RATE_LIMIT_FOLLOWS_PER_USER="100000",
        RATE_LIMIT_FAVORITES_PER_USER="100000",
        RATE_LIMIT_COMMENTS_PER_USER="100000",
        RATE_LIMIT_ARTICLES_PER_USER="100000",
        OUTBOX_RELAY_IN_API="false",
    )
    cwd = tmp_path_factory.mktemp(f"races-{workers}")
    with portico_server(free_port(), env, cwd, "--workers", str(workers)) as running:
        yield Served(running, asyncio.run(register_people(running.base_url)))


@pytest.fixture
async def race(served: Served) -> AsyncIterator[Race]:
    async with httpx.AsyncClient(base_url=served.server.base_url, timeout=30) as client:
        yield Race(served, client, len(served.server.log()))


# --- 1. partial updates by the author ------------------------------------------------


async def test_concurrent_partial_updates_all_land(race: Race, db: sa.Engine) -> None:
    author = race.people[0]
    wrong: list[str] = []
    for trial in range(TRIALS):
        slug = await publish(race, author)
        article = article_id(db, slug)
        path = f"/api/articles/{slug}"
        edits = {
            "title": f"Title {trial} {uuid.uuid4().hex[:6]}",
            "description": f"new description {trial}",
            "body": f"new body {trial}",
            "tagList": [f"x{trial}", f"y{trial}"],
        }
        responses = await race.storm(
            [race.request("PUT", path, author, {"article": {k: v}}) for k, v in edits.items()]
        )
        assert statuses(responses) == [200] * 4, [r.text for r in responses]
        shown = (await race.client.get(path, headers=author.headers)).json()["article"]
        assert shown["slug"] == slug
        final = {key: shown[key] for key in edits}
        if final != edits:
            wrong.append(f"trial {trial}: lost fields, {final} instead of {edits}")
        changed = sorted(tuple(e["changed"]) for e in events(db, "article.updated", article))
        if changed != [("body",), ("description",), ("tags",), ("title",)]:
            wrong.append(f"trial {trial}: article.updated events changed {changed}")
    assert not wrong, "concurrent partial PUTs:\n" + "\n".join(wrong)
    race.finish()


# --- 2-4. delete against comment, favorite and update --------------------------------


async def test_delete_against_comments(race: Race, db: sa.Engine) -> None:
    author, commenters = race.people[0], race.people[1:11]
    for _ in range(ROUNDS):
        slug = await publish(race, author)
        article = article_id(db, slug)
        path = f"/api/articles/{slug}"
        comments = [
            race.request("POST", f"{path}/comments", who, {"comment": {"body": "me too"}})
            for who in commenters
        ]
        responses = await race.storm(
            [*comments[:5], race.request("DELETE", path, author), *comments[5:]]
        )
        assert responses.pop(5).status_code == 204
        assert_only(responses, {201: None, 404: ARTICLE_NOT_FOUND})
        added = statuses(responses).count(201)
        await assert_article_gone(race, db, slug, article)
        raised = comment_events_on(db, "comment.added", article)
        assert raised == added, f"{raised} comment.added for {statuses(responses)}"
    race.finish()


async def test_delete_against_favorites(race: Race, db: sa.Engine) -> None:
    author, fans = race.people[0], race.people[1:11]
    for _ in range(ROUNDS):
        slug = await publish(race, author)
        article = article_id(db, slug)
        path = f"/api/articles/{slug}"
        favorites = [race.request("POST", f"{path}/favorite", fan) for fan in fans]
        responses = await race.storm(
            [*favorites[:5], race.request("DELETE", path, author), *favorites[5:]]
        )
        assert responses.pop(5).status_code == 204
        assert_only(responses, {200: None, 404: ARTICLE_NOT_FOUND})
        favored = statuses(responses).count(200)
        await assert_article_gone(race, db, slug, article)
        raised = len(events(db, "article.favorited", article))
        assert raised == favored, f"{raised} article.favorited for {statuses(responses)}"
    race.finish()


async def test_delete_against_updates(race: Race, db: sa.Engine) -> None:
    """A PUT answered 404 changed nothing: only the 200s have an article.updated event."""
    author = race.people[0]
    for trial in range(ROUNDS):
        slug = await publish(race, author)
        article = article_id(db, slug)
        path = f"/api/articles/{slug}"
        updates = [
            race.request("PUT", path, author, {"article": {"tagList": [f"u{trial}-{n}"]}})
            for n in range(6)
        ]
        responses = await race.storm(
            [*updates[:3], race.request("DELETE", path, author), *updates[3:]]
        )
        assert responses.pop(3).status_code == 204
        assert_only(responses, {200: None, 404: ARTICLE_NOT_FOUND})
        updated = statuses(responses).count(200)
        await assert_article_gone(race, db, slug, article)
        raised = len(events(db, "article.updated", article))
        assert raised == updated, f"{raised} article.updated for {statuses(responses)}"
    race.finish()


# --- 5. concurrent deletes -----------------------------------------------------------


async def test_concurrent_deletes_of_one_article(race: Race, db: sa.Engine) -> None:
    author = race.people[0]
    for _ in range(TRIALS):
        slug = await publish(race, author)
        article = article_id(db, slug)
        path = f"/api/articles/{slug}"
        responses = await race.storm([race.request("DELETE", path, author) for _ in range(STORM)])
        assert Counter(statuses(responses)) == {204: 1, 404: STORM - 1}
        assert_only(responses, {204: None, 404: ARTICLE_NOT_FOUND})
        await assert_article_gone(race, db, slug, article)
    race.finish()


async def test_concurrent_deletes_of_one_comment(race: Race, db: sa.Engine) -> None:
    author, commenter = race.people[0], race.people[1]
    slug = await publish(race, author)
    article = article_id(db, slug)
    for trial in range(TRIALS):
        comment = await add_comment(race, slug, commenter)
        path = f"/api/articles/{slug}/comments/{comment}"
        responses = await race.storm(
            [race.request("DELETE", path, commenter) for _ in range(STORM)]
        )
        assert Counter(statuses(responses)) == {204: 1, 404: STORM - 1}
        assert_only(responses, {204: None, 404: COMMENT_NOT_FOUND})
        listed = await race.client.get(f"/api/articles/{slug}/comments", headers=author.headers)
        assert listed.json() == {"comments": []}
        assert scalar(db, "SELECT count(*) FROM comments WHERE id = :id", id=comment) == 0
        assert len(events(db, "comment.deleted", str(comment))) == 1
        assert comment_events_on(db, "comment.deleted", article) == trial + 1
    race.finish()


# --- 6. idempotent writes retried at once --------------------------------------------


async def test_the_same_favorite_and_unfavorite_retried_at_once(race: Race, db: sa.Engine) -> None:
    author, fan = race.people[0], race.people[2]
    slug = await publish(race, author)
    article, fan_id = article_id(db, slug), user_id(db, fan)
    path = f"/api/articles/{slug}/favorite"
    for method, favorited, event_type in (
        ("POST", True, "article.favorited"),
        ("DELETE", False, "article.unfavorited"),
    ):
        responses = await race.storm([race.request(method, path, fan) for _ in range(STORM)])
        assert statuses(responses) == [200] * STORM, [r.text for r in responses]
        for response in responses:
            shown = response.json()["article"]
            assert (shown["favorited"], shown["favoritesCount"]) == (favorited, int(favorited))
        rows = scalar(
            db,
            "SELECT count(*) FROM favorites WHERE article_id = :a AND user_id = :u",
            a=article,
            u=fan_id,
        )
        assert rows == int(favorited)
        raised = events(db, event_type, article)
        assert [event["user_id"] for event in raised] == [fan_id], event_type
    race.finish()


async def test_the_same_follow_and_unfollow_retried_at_once(race: Race, db: sa.Engine) -> None:
    follower, followee = race.people[3], await register(race.client)
    follower_id, followee_id = user_id(db, follower), user_id(db, followee)
    path = f"/api/profiles/{followee.name}/follow"
    for method, following, event_type in (
        ("POST", True, "user.followed"),
        ("DELETE", False, "user.unfollowed"),
    ):
        responses = await race.storm([race.request(method, path, follower) for _ in range(STORM)])
        assert statuses(responses) == [200] * STORM, [r.text for r in responses]
        for response in responses:
            assert response.json()["profile"]["following"] is following
        rows = scalar(
            db,
            "SELECT count(*) FROM follows WHERE follower_id = :a AND followee_id = :b",
            a=follower_id,
            b=followee_id,
        )
        assert rows == int(following)
        raised = events(db, event_type, follower_id)
        assert [event["followee_id"] for event in raised] == [followee_id], event_type
    race.finish()


# --- 7. concurrent refreshes with one token ------------------------------------------


def refresh_token_set_by(response: httpx.Response) -> str:
    """The refresh token in the response's Set-Cookie (Secure: httpx would not send it back)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == REFRESH_COOKIE:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {REFRESH_COOKIE} cookie in {response.headers}")


async def test_concurrent_refreshes_with_one_token_get_one_new_pair(race: Race) -> None:
    """The same client (IP, User-Agent) presenting one cookie 20 times at once: one new pair."""
    owner = await register(race.client)
    device = {"User-Agent": "race-test/1.0"}
    login = await race.client.post(
        "/api/users/login",
        json={"user": {"email": owner.email, "password": PASSWORD}},
        headers=device,
    )
    assert login.status_code == 200, login.text
    old = refresh_token_set_by(login)
    cookie = {**device, "Cookie": f"{REFRESH_COOKIE}={old}"}
    refresh = "/api/auth/refresh"
    responses = await race.storm(
        [race.client.build_request("POST", refresh, headers=cookie) for _ in range(STORM)]
    )
    assert statuses(responses) == [200] * STORM, [(r.status_code, r.text) for r in responses]
    refresh_tokens = {refresh_token_set_by(response) for response in responses}
    access_tokens = {response.json()["user"]["token"] for response in responses}
    assert len(refresh_tokens) == 1, f"{len(refresh_tokens)} refresh tokens for one refresh"
    assert len(access_tokens) == 1, f"{len(access_tokens)} access tokens for one refresh"
    (new,), (access,) = refresh_tokens, access_tokens
    assert new
    assert new != old
    me = await race.client.get("/api/user", headers={"Authorization": f"Token {access}"})
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == owner.name
    onward = await race.client.post(
        "/api/auth/refresh", headers={**device, "Cookie": f"{REFRESH_COOKIE}={new}"}
    )
    assert onward.status_code == 200, onward.text
    assert refresh_token_set_by(onward) not in (old, new)
    race.finish()
