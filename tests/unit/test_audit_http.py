"""The audit log over HTTP, on the in-memory adapters: the admin's list, its filters and
pages, every refusal of bad input in the envelope, a user's own history, and what the
OpenAPI document says of them. The guard's own refusals: test_audit_edge_denials.py; the
live stream: test_audit_stream_http.py.

The entries read here are the ones earlier requests of the same test wrote, through the
use cases' declarations and the guard, as in production.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from application.audit.policy import MAX_PAGE, MAX_RANGE
from domain.audit.entry import MAX_TEXT_CHARS, Outcome
from domain.users.values import Role
from entrypoints.http.middleware.request_id import REQUEST_ID_PATTERN
from tests.support.audit_http import (
    PASSWORD,
    Account,
    actions,
    audit_page,
    log_in,
    memory_app,
    register,
    served,
    set_role,
)
from tests.support.documented_app import documented_app

STREAM = "/api/admin/audit/stream"


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return memory_app(tmp_path)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app) as client:
        yield client


@pytest.fixture
async def admin(app: Litestar, client: httpx.AsyncClient) -> Account:
    account = await register(client, "admin")
    await set_role(app, account, Role.ADMIN)
    return account


async def publish(client: httpx.AsyncClient, author: Account, title: str) -> str:
    article = {"title": title, "description": "d", "body": "first body", "tagList": []}
    response = await client.post("/api/articles", json={"article": article}, headers=author.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["article"]["slug"])


# --- the admin's list ----------------------------------------------------------------------


async def test_an_admin_reads_what_earlier_requests_did(
    client: httpx.AsyncClient, admin: Account
) -> None:
    author = await register(client, "author")
    slug = await publish(client, author, "Audited title")
    update = await client.put(
        f"/api/articles/{slug}",
        json={"article": {"body": "second body"}},
        headers={**author.headers, "X-Request-ID": "edit-42", "User-Agent": "editor/1.0"},
    )
    assert update.status_code == 200, update.text

    page = await audit_page(client, admin)
    entries = page["entries"]
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)
    assert page["count"] == len(entries)
    assert page["countCapped"] is False
    assert page["nextCursor"] is None

    (registered,) = [
        e for e in entries if e["action"] == "user.register" and e["target"]["id"] == author.user_id
    ]
    assert registered["outcome"] == "success"
    assert registered["target"] == {"type": "user", "id": author.user_id}
    assert registered["actor"]["kind"] == "anonymous"

    (edited,) = [e for e in entries if e["action"] == "article.update"]
    assert edited["outcome"] == "success"
    assert edited["target"] == {"type": "article", "id": slug}
    assert edited["actor"] == {
        "kind": "user",
        "userId": author.user_id,
        "username": author.name,
        "process": None,
    }
    assert edited["changes"] == [{"field": "body", "before": "first body", "after": "second body"}]
    assert edited["requestId"] == "edit-42"
    assert edited["userAgent"] == "editor/1.0"
    assert edited["clientIp"] == "127.0.0.1"
    assert len(edited["hash"]) == len(edited["previousHash"]) == 64
    before = next(e for e in entries if e["seq"] == edited["seq"] - 1)
    assert edited["previousHash"] == before["hash"]


async def test_each_filter_narrows_the_list(client: httpx.AsyncClient, admin: Account) -> None:
    author, other = await register(client, "author"), await register(client, "other")
    slug = await publish(client, author, "Filtered")
    await publish(client, other, "Unrelated")
    edit = {"article": {"description": "new"}}
    headers = {**author.headers, "X-Request-ID": "filter-me"}
    assert (await client.put(f"/api/articles/{slug}", json=edit, headers=headers)).is_success
    assert (await client.get("/api/admin/audit", headers=other.headers)).status_code == 403
    everything = (await audit_page(client, admin, limit=MAX_PAGE))["entries"]

    async def ask(**query: str | int) -> list[dict[str, Any]]:
        page = await audit_page(client, admin, limit=MAX_PAGE, **query)
        entries: list[dict[str, Any]] = page["entries"]
        assert page["count"] == len(entries)
        assert all(entry in everything for entry in entries)
        return entries

    by_author = await ask(actorId=author.user_id)
    assert set(actions(by_author)) == {"article.publish", "article.update"}
    assert {e["actor"]["userId"] for e in by_author} == {author.user_id}
    assert actions(await ask(action="article.update")) == ["article.update"]
    on_article = await ask(targetType="article", targetId=slug)
    assert actions(on_article) == ["article.update", "article.publish"]
    assert len(await ask(targetType="article")) == 3
    assert {e["target"]["type"] for e in await ask(targetType="user")} == {"user"}

    (denied,) = await ask(outcome="denied")
    assert denied["action"] == "route.access"
    succeeded = await ask(outcome="success")
    assert len(succeeded) == len(everything) - 1
    (by_request,) = await ask(requestId="filter-me")
    assert by_request["action"] == "article.update"
    both = await ask(actorId=author.user_id, action="article.publish")
    assert actions(both) == ["article.publish"]

    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    assert await ask(since=(now - hour).isoformat(), until=(now + hour).isoformat()) == everything
    assert await ask(since=(now - 2 * hour).isoformat(), until=(now - hour).isoformat()) == []
    assert await ask(until=(now - hour).isoformat()) == []
    assert await ask(since=(now + hour).isoformat()) == []
    in_another_zone = (now - hour).astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert await ask(since=in_another_zone) == everything


async def test_pages_are_disjoint_newest_first_and_cover_everything(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(4):
        await register(client)
    everything = [e["seq"] for e in (await audit_page(client, admin, limit=MAX_PAGE))["entries"]]
    assert len(everything) >= 6
    seen: list[int] = []
    pages = 0
    query: dict[str, str | int] = {"limit": 2}
    while True:
        page = await audit_page(client, admin, **query)
        assert len(page["entries"]) <= 2
        assert page["count"] == len(everything)
        seen.extend(e["seq"] for e in page["entries"])
        pages += 1
        if page["nextCursor"] is None:
            break
        query = {"limit": 2, "cursor": page["nextCursor"]}
    assert seen == everything
    assert len(set(seen)) == len(seen)
    assert pages == -(-len(everything) // 2)


# --- bad input -----------------------------------------------------------------------------


def _bad_queries(cursor: str) -> list[tuple[dict[str, str], str]]:
    now = datetime.now(UTC)
    tampered = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    return [
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_PAGE + 1)}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"outcome": "maybe"}, "outcome"),
        ({"actorId": "not-a-uuid"}, "actorId"),
        ({"action": "Article Update"}, "action"),
        ({"action": "article"}, "action"),
        ({"targetId": "some-slug"}, "targetId"),
        ({"targetType": "x" * 513}, "targetType"),
        ({"requestId": "has spaces"}, "requestId"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-13-45T00:00:00Z"}, "since"),
        ({"since": "2025-01-01T00:00:00"}, "since"),
        ({"until": "2025-01-01T00:00:00"}, "until"),
        ({"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}, "until"),
        ({"since": now.isoformat(), "until": now.isoformat()}, "until"),
        (
            {
                "since": (now - MAX_RANGE - timedelta(days=1)).isoformat(),
                "until": now.isoformat(),
            },
            "until",
        ),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": tampered}, "cursor"),
        ({"cursor": cursor + "AAAA"}, "cursor"),
    ]


async def test_bad_input_is_422_in_the_envelope_and_never_a_500(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(3):
        await register(client)
    cursor = (await audit_page(client, admin, limit=1))["nextCursor"]
    assert isinstance(cursor, str)
    for query, key in _bad_queries(cursor):
        response = await client.get("/api/admin/audit", params=query, headers=admin.headers)
        assert response.status_code == 422, (query, response.text)
        body = response.json()
        assert list(body) == ["errors"], query
        assert list(body["errors"]) == [key], (query, body)
        assert all(isinstance(m, str) and m for m in body["errors"][key]), body

    twice = await client.get("/api/admin/audit?limit=1&limit=2", headers=admin.headers)
    assert twice.status_code == 422
    assert twice.json() == {"errors": {"limit": ["may be given only once"]}}
    nul = await client.get("/api/admin/audit", params={"action": "a\x00"}, headers=admin.headers)
    assert nul.status_code == 422
    assert list(nul.json()["errors"]) == ["action"]
    not_utf8 = await client.get("/api/admin/audit?targetType=%ff", headers=admin.headers)
    assert not_utf8.status_code == 400
    assert list(not_utf8.json()) == ["errors"]


async def test_the_users_history_refuses_bad_pages_too(
    client: httpx.AsyncClient, admin: Account
) -> None:
    user = await register(client)
    for query, key in (
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
    ):
        response = await client.get("/api/user/activity", params=query, headers=user.headers)
        assert response.status_code == 422, (query, response.text)
        assert list(response.json()["errors"]) == [key]
    for last_event_id in ("abc", "-1", "1.5"):
        headers = {**admin.headers, "Last-Event-ID": last_event_id}
        refused = await client.get(STREAM, headers=headers)
        assert refused.status_code == 422, (last_event_id, refused.text)
        assert list(refused.json()["errors"]) == ["Last-Event-ID"]


# --- a user's own history ------------------------------------------------------------------


async def test_a_user_sees_their_own_security_history_and_nobody_elses(
    client: httpx.AsyncClient,
) -> None:
    me, other = await register(client, "me"), await register(client, "other")
    assert (await log_in(client, me)).status_code == 200
    assert (await log_in(client, other)).status_code == 200
    wrong = {"user": {"email": f"{me.name}@test.com", "password": "wrong-password"}}
    assert (await client.post("/api/users/login", json=wrong)).status_code == 401
    bio = {"user": {"bio": "hello"}}
    assert (await client.put("/api/user", json=bio, headers=me.headers)).status_code == 200
    new_password = {"user": {"password": "another-password-1", "currentPassword": PASSWORD}}
    assert (await client.put("/api/user", json=new_password, headers=me.headers)).is_success

    response = await client.get("/api/user/activity", headers=me.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"entries", "nextCursor"}
    entries = body["entries"]
    assert actions(entries) == [
        "user.update",
        "user.update",
        "user.login",
        "user.login",
        "user.register",
    ]
    assert [e["outcome"] for e in entries[2:4]] == ["denied", "success"]
    assert entries[1]["changes"] == [{"field": "bio", "before": None, "after": "hello"}]
    assert entries[0]["changes"] == [
        {"field": "password", "before": "[redacted]", "after": "[redacted]"}
    ]
    for entry in entries:
        assert "hash" not in entry
        assert "previousHash" not in entry
        assert entry["actor"]["userId"] in {me.user_id, None}
        assert other.user_id not in str(entry)
        assert other.name not in str(entry)
    assert entries[4]["target"] == {"type": "user", "id": me.user_id}


async def test_the_users_history_pages_with_its_cursor(client: httpx.AsyncClient) -> None:
    me = await register(client, "me")
    for _ in range(4):
        assert (await log_in(client, me)).status_code == 200
    seen: list[int] = []
    query: dict[str, str | int] = {"limit": 2}
    while True:
        response = await client.get("/api/user/activity", params=query, headers=me.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(e["seq"] for e in page["entries"])
        if page["nextCursor"] is None:
            break
        query = {"limit": 2, "cursor": page["nextCursor"]}
    assert len(seen) == 5
    assert seen == sorted(set(seen), reverse=True)


# --- the document --------------------------------------------------------------------------


def test_the_document_states_what_the_routes_check_and_answer() -> None:
    document = documented_app().openapi_schema.to_schema()
    schemas = document["components"]["schemas"]
    listing = document["paths"]["/api/admin/audit"]["get"]
    activity = document["paths"]["/api/user/activity"]["get"]
    stream = document["paths"][STREAM]["get"]

    def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
        (found,) = [p for p in operation["parameters"] if p["name"] == name]
        return dict(found)

    for operation in (listing, activity):
        limit = parameter(operation, "limit")["schema"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_PAGE, 20)
        assert {"401", "403", "422"} <= operation["responses"].keys()
    assert {p["name"] for p in listing["parameters"]} == {
        "actorId",
        "action",
        "targetType",
        "targetId",
        "outcome",
        "since",
        "until",
        "requestId",
        "cursor",
        "limit",
    }
    assert {"type": "string", "format": "uuid"} in parameter(listing, "actorId")["schema"]["oneOf"]
    assert {"type": "string", "format": "date-time"} in parameter(listing, "since")["schema"][
        "oneOf"
    ]
    assert parameter(listing, "targetId")["schema"]["maxLength"] == MAX_TEXT_CHARS
    assert parameter(listing, "requestId")["schema"]["pattern"] == REQUEST_ID_PATTERN
    assert schemas["Outcome"]["enum"] == [outcome.value for outcome in Outcome]
    assert f"{MAX_RANGE.days} days" in listing["responses"]["422"]["description"]
    assert listing["responses"]["403"]["description"].endswith("`audit:read` permission.")

    last_event_id = parameter(stream, "Last-Event-ID")
    assert last_event_id["in"] == "header"
    assert last_event_id["schema"]["minimum"] == 0
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {"403", "429", "503"} <= stream["responses"].keys()

    listed = schemas["AuditLogEntry"]["properties"]
    shown = schemas["ActivityEntry"]["properties"]
    assert listed.keys() - shown.keys() == {"previousHash", "hash"}
    assert set(schemas["AuditPageResponse"]["properties"]) == {
        "entries",
        "nextCursor",
        "count",
        "countCapped",
    }
    assert set(schemas["ActivityResponse"]["properties"]) == {"entries", "nextCursor"}
