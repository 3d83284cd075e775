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
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server
from tests.support.storm import send_together

pytestmark = pytest.mark.e2e

ARTICLE_NOT_FOUND = {"errors": {"article": ["not found"]}}
COMMENT_NOT_FOUND = {"errors": {"comment": ["not found"]}}
PASSWORD = "password123"
REFRESH_COOKIE = "refresh_token"
STORM = 20
"""Requests in a storm of identical writes."""
TRIALS = 5
"""Repeats of the races whose losing interleaving shows only now and then."""
ROUNDS = 5
"""Repeats of the delete-against-write races (ten or so requests each)."""
PEOPLE = 12
"""Users registered once per server: an author and the others who comment and favor."""

_SERVER_ERROR_LINE = re.compile(
    r"Traceback|unhandled |\s(?:ERROR|CRITICAL)\s|\b(?:GET|POST|PUT|DELETE|PATCH) /\S* 5\d\d\b"
)
_ACCESS_LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \w+ +(?P<id>\S+) portico\.access "
    r"\S+ \S+ \d{3} (?P<ms>[\d.]+)ms$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Person:
    """A registered user and the headers that make requests theirs."""

    name: str
    email: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Served:
    """The server under test and the people registered on it."""

    server: RunningServer
    people: list[Person]


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
        yield Served(running, asyncio.run(_register_people(running.base_url)))


async def _register_people(base_url: str) -> list[Person]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return list(await asyncio.gather(*(register(client) for _ in range(PEOPLE))))


async def register(client: httpx.AsyncClient) -> Person:
    name = f"r{uuid.uuid4().hex[:12]}"
    email = f"{name}@test.com"
    body = {"user": {"username": name, "email": email, "password": PASSWORD}}
    registered = await client.post("/api/users", json=body)
    assert registered.status_code == 201, registered.text
    return Person(name, email, {"Authorization": f"Token {registered.json()['user']['token']}"})


@dataclass
class Race:
    """One test's storms on one server: sends them, and judges them at the end."""

    served: Served
    client: httpx.AsyncClient
    log_start: int
    overlaps: list[tuple[int, int]] = field(default_factory=list)

    @property
    def people(self) -> list[Person]:
        return self.served.people

    def request(
        self, method: str, path: str, who: Person, json: dict[str, Any] | None = None
    ) -> httpx.Request:
        return self.client.build_request(method, path, headers=who.headers, json=json)

    async def storm(self, requests: Sequence[httpx.Request]) -> list[httpx.Response]:
        """Send all `requests` at the same moment; their responses, none of them a 5xx."""
        tag = uuid.uuid4().hex[:12]
        for number, request in enumerate(requests):
            request.headers["X-Request-ID"] = f"race-{tag}-{number}"
        async with asyncio.timeout(30):
            responses = await send_together(requests)
        failed = [
            f"{r.request.method} {r.request.url.path} {r.status_code}: {r.text}"
            for r in responses
            if r.status_code >= 500
        ]
        assert not failed, "server errors:\n" + "\n".join(failed)
        self.overlaps.append((self._peak_in_server(f"race-{tag}-", len(requests)), len(requests)))
        return responses

    def finish(self) -> None:
        """The storms overlapped in the server, and it logged no error meanwhile.

        At least one storm must have had half its requests (at least two) in the server at
        once, as its access log tells (times to the millisecond); a storm of fast 404s may
        trickle through one by one, so not every storm has to.
        """
        assert any(peak >= max(2, size // 2) for peak, size in self.overlaps), (
            f"the storms did not overlap in the server: (peak, size) {self.overlaps}"
        )
        written = self._settled_log()[self.log_start :]
        bad = [line for line in written.splitlines() if _SERVER_ERROR_LINE.search(line)]
        assert not bad, "the server logged errors:\n" + "\n".join(bad[:20])

    def _peak_in_server(self, id_prefix: str, size: int) -> int:
        """How many of the requests whose ids start so were in the server at once."""
        deadline = time.monotonic() + 5
        while True:
            spans = [
                (_seconds(line["at"]) - float(line["ms"]) / 1000, _seconds(line["at"]))
                for line in _ACCESS_LINE.finditer(self.served.server.log())
                if line["id"].startswith(id_prefix)
            ]
            if len(spans) >= size or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(spans) == size, f"{len(spans)} of {size} requests in the access log"
        edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        inside = peak = 0
        for _, step in edges:
            inside += step
            peak = max(peak, inside)
        return peak

    def _settled_log(self) -> str:
        """The log once the workers have stopped writing (at most a second's wait)."""
        deadline, seen = time.monotonic() + 1, self.served.server.log()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.served.server.log()
            if now == seen:
                break
            seen = now
        return seen


def _seconds(stamp: str) -> float:
    """A log line's time in seconds (its zone does not matter: only differences are used)."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


@pytest.fixture
async def race(served: Served) -> AsyncIterator[Race]:
    async with httpx.AsyncClient(base_url=served.server.base_url, timeout=30) as client:
        yield Race(served, client, len(served.server.log()))


# --- reading the outcome -------------------------------------------------------------


def statuses(responses: Sequence[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


def assert_only(responses: Sequence[httpx.Response], allowed: dict[int, Any]) -> None:
    """Each status is one of `allowed`; where a body is given for it, the body is exactly it."""
    for response in responses:
        assert response.status_code in allowed, (response.status_code, response.text)
        if allowed[response.status_code] is not None:
            assert response.json() == allowed[response.status_code], response.text


async def publish(race: Race, author: Person) -> str:
    article = {
        "title": f"Race {uuid.uuid4().hex[:8]}",
        "description": "d0",
        "body": "b0",
        "tagList": ["t0"],
    }
    created = await race.client.post(
        "/api/articles", json={"article": article}, headers=author.headers
    )
    assert created.status_code == 201, created.text
    return str(created.json()["article"]["slug"])


async def add_comment(race: Race, slug: str, author: Person) -> int:
    created = await race.client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "first"}},
        headers=author.headers,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["comment"]["id"])


def scalar(db: sa.Engine, sql: str, **params: Any) -> Any:
    with db.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar_one()


def article_id(db: sa.Engine, slug: str) -> str:
    return str(scalar(db, "SELECT id FROM articles WHERE slug = :slug", slug=slug))


def user_id(db: sa.Engine, person: Person) -> str:
    return str(scalar(db, "SELECT id FROM users WHERE username = :name", name=person.name))


def events(db: sa.Engine, event_type: str, aggregate_id: str) -> list[dict[str, Any]]:
    """The payloads of the outbox rows of this type about this aggregate, oldest first."""
    with db.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT payload FROM outbox WHERE event_type = :type AND aggregate_id = :id "
                "ORDER BY position"
            ),
            {"type": event_type, "id": aggregate_id},
        ).scalars()
        return [dict(row) for row in rows]


def comment_events_on(db: sa.Engine, event_type: str, article: str) -> int:
    """Comment events (each keyed by its comment's id) about comments on `article`."""
    return int(
        scalar(
            db,
            "SELECT count(*) FROM outbox WHERE event_type = :type "
            "AND aggregate_type = 'comment' AND payload->>'article_id' = :article",
            type=event_type,
            article=article,
        )
    )


async def assert_article_gone(race: Race, db: sa.Engine, slug: str, article: str) -> None:
    """404 to its author; no row of it, its comments, favorites or tags; one deletion event."""
    read = await race.client.get(f"/api/articles/{slug}", headers=race.people[0].headers)
    assert (read.status_code, read.json()) == (404, ARTICLE_NOT_FOUND)
    for table, column in (
        ("articles", "id"),
        ("comments", "article_id"),
        ("favorites", "article_id"),
        ("article_tags", "article_id"),
    ):
        sql = f"SELECT count(*) FROM {table} WHERE {column} = :id"  # noqa: S608 - literal names
        left = scalar(db, sql, id=article)
        assert left == 0, f"{left} {table} rows outlived article {slug}"
    assert len(events(db, "article.deleted", article)) == 1


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
