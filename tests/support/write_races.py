"""The harness of the write-race e2e tests: people on a server, storms, and their outcome.

A `Race` sends storms of requests that reach `portico serve` at the same moment (see
tests/support/storm.py) and, at the end, checks from the server's access log that they
overlapped there and that it logged no error. The other helpers read the outcome over
HTTP and straight from the database: statuses, outbox events, rows left behind.
"""

import asyncio
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from tests.support.server import RunningServer
from tests.support.storm import send_together

ARTICLE_NOT_FOUND = {"errors": {"article": ["not found"]}}
COMMENT_NOT_FOUND = {"errors": {"comment": ["not found"]}}
PASSWORD = "password123"
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


async def register_people(base_url: str) -> list[Person]:
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
