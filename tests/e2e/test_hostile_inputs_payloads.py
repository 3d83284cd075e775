"""Hostile payloads against `portico serve`: every answer a 4xx in the envelope, never a 500.

Issue 17's hostile pass, as tests, for what the app reads of a request: bodies that are not
UTF-8, NUL in any text, huge numbers, deep nesting and duplicate keys, and NUL, broken
percent-encoding and huge numbers in paths and queries. After each test, a fixture checks
that the server logged no 5xx, no error and no traceback meanwhile.

Some bytes never reach Portico: granian refuses a raw byte above 0x7f in the path or query
with a bare 400 of its own. Those cases are here too, to show they stay 4xx and quiet.
"""

import base64
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.hostile_inputs import (
    HUGE,
    NOT_UTF8,
    NUL_MESSAGE,
    PASSWORD,
    hostile_env,
    nothing_logged_as_failed,
    raw_get,
    register,
)
from tests.support.network import free_port
from tests.support.server import RunningServer, portico_server, run_portico

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return hostile_env(migrated_url, tmp_path_factory)


@pytest.fixture(scope="module")
def server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with portico_server(free_port(), env, tmp_path_factory.mktemp("hostile")) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def nothing_failed_meanwhile(server: RunningServer) -> Iterator[None]:
    """After each test: no 5xx, no error and no traceback in what the server logged for it."""
    with nothing_logged_as_failed(server):
        yield


@pytest.fixture(scope="module")
def admin(
    api: httpx.Client, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str]]:
    """An administrator, so that every route with a body reads it, the admin routes too."""
    name, _ = register(api)
    promoted = run_portico(
        "users", "set-role", name, "admin", env=env, cwd=tmp_path_factory.mktemp("cli")
    )
    assert promoted.returncode == 0, promoted.stderr
    login = {"user": {"email": f"{name}@test.com", "password": PASSWORD}}
    signed_in = api.post("/api/users/login", json=login)
    assert signed_in.status_code == 200, signed_in.text
    return name, {"Authorization": f"Token {signed_in.json()['user']['token']}"}


@pytest.fixture(scope="module")
def slug(api: httpx.Client, admin: tuple[str, dict[str, str]]) -> str:
    article = {"article": {"title": "Hostile ground", "description": "d", "body": "b"}}
    published = api.post("/api/articles", json=article, headers=admin[1])
    assert published.status_code == 201, published.text
    return str(published.json()["article"]["slug"])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def routes_with_a_body(api: httpx.Client, username: str, slug: str) -> list[tuple[str, str]]:
    """Every operation the OpenAPI document gives a JSON request body, its path filled in.

    The uploads' bodies are a file's bytes, which may be anything: they are checked as
    files (tests/e2e/test_files.py), not as JSON.
    """
    document = api.get("/schema/openapi.json").json()
    routes = []
    for template, operations in document["paths"].items():
        path = template.replace("{username}", username).replace("{slug}", slug)
        for method, operation in operations.items():
            if isinstance(operation, dict) and "application/json" in operation.get(
                "requestBody", {}
            ).get("content", {}):
                assert "{" not in path, f"a path parameter to fill in: {template}"
                routes.append((method.upper(), path))
    assert len(routes) >= 18, routes
    return routes


def answers_to_body(
    api: httpx.Client, routes: list[tuple[str, str]], body: bytes, headers: dict[str, str]
) -> dict[tuple[str, str], tuple[int, Any]]:
    sent = {**headers, "Content-Type": "application/json"}
    answers = {}
    for method, path in routes:
        response = api.request(method, path, content=body, headers=sent)
        answers[method, path] = (response.status_code, response.json())
    return answers


# --- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", NOT_UTF8, ids=["ff", "overlong-nul", "surrogate"])
def test_a_body_that_is_not_utf8_is_400_on_every_route_with_a_body(
    server: RunningServer,
    api: httpx.Client,
    admin: tuple[str, dict[str, str]],
    slug: str,
    bad: bytes,
) -> None:
    routes = routes_with_a_body(api, admin[0], slug)
    body = b'{"article": {"title": "' + bad + b'"}}'
    answers = answers_to_body(api, routes, body, admin[1])
    expected = (400, {"errors": {"body": ["is not valid UTF-8"]}})
    assert {route: answer for route, answer in answers.items() if answer != expected} == {}


def test_nul_anywhere_in_a_body_is_422_naming_the_field_on_every_route(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], slug: str
) -> None:
    routes = routes_with_a_body(api, admin[0], slug)
    answers = answers_to_body(api, routes, b'{"anything": "a\\u0000b"}', admin[1])
    expected = (422, {"errors": {"anything": [NUL_MESSAGE]}})
    assert {route: answer for route, answer in answers.items() if answer != expected} == {}


NUL_IN_A_FIELD = {
    "push-unsubscribe": (
        "DELETE /api/push/subscriptions",
        {"endpoint": "https://push.example.com/\x00"},
        "endpoint",
    ),
    "push-key": (
        "POST /api/push/subscriptions",
        {"endpoint": "https://push.example.com/a", "keys": {"p256dh": "\x00", "auth": "x"}},
        "p256dh",
    ),
    "bio": ("PUT /api/user", {"user": {"bio": "a\x00b"}}, "bio"),
    "tag-in-a-list": (
        "POST /api/articles",
        {"article": {"title": "t", "description": "d", "body": "b", "tagList": ["ok", "n\x00"]}},
        "tagList",
    ),
    "key-of-a-map": (
        "PUT /api/notifications/preferences",
        {"preferences": {"new_follower\x00": {"email": True}}},
        "preferences",
    ),
    "login": (
        "POST /api/users/login",
        {"user": {"email": "a\x00@test.com", "password": PASSWORD}},
        "email",
    ),
}


@pytest.mark.parametrize("case", NUL_IN_A_FIELD.values(), ids=NUL_IN_A_FIELD.keys())
def test_nul_in_a_text_field_is_422_naming_the_field(
    server: RunningServer,
    api: httpx.Client,
    admin: tuple[str, dict[str, str]],
    case: tuple[str, dict[str, Any], str],
) -> None:
    route, body, field = case
    method, path = route.split(" ")
    response = api.request(method, path, json=body, headers=admin[1])
    assert (response.status_code, response.json()) == (422, {"errors": {field: [NUL_MESSAGE]}})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 500_000, "is nested too deeply"),
        (b'{"article": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "is nested too deeply"),
        (b'{"article": {"title": 1e400}}', "has a number out of range"),
        (b'{"article": {"title": "t"', "is not valid JSON"),
    ],
    ids=["half-a-million-brackets", "deep-inside-a-field", "1e400", "truncated"],
)
def test_a_body_no_decoder_can_hold_is_400(
    server: RunningServer,
    api: httpx.Client,
    admin: tuple[str, dict[str, str]],
    body: bytes,
    message: str,
) -> None:
    headers = {**admin[1], "Content-Type": "application/json"}
    response = api.post("/api/articles", content=body, headers=headers)
    assert (response.status_code, response.json()) == (400, {"errors": {"body": [message]}})


def test_a_huge_integer_in_a_json_number_field_is_held_exactly(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]]
) -> None:
    keys = {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))}
    for number in (HUGE, -HUGE, 2**64):
        body = {"endpoint": "https://push.example.com/x", "keys": keys, "expirationTime": number}
        response = api.post("/api/push/subscriptions", json=body, headers=admin[1])
        assert response.status_code == 201, response.text
        assert response.json()["expirationTime"] == number


def test_a_key_named_twice_keeps_the_last_value(server: RunningServer, api: httpx.Client) -> None:
    _, token = register(api)
    body = b'{"user": {"bio": "first", "bio": "last"}}'
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    response = api.put("/api/user", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["bio"] == "last"


# --- path and query -------------------------------------------------------------------------


def test_nul_in_a_path_parameter_is_422_naming_it(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], slug: str
) -> None:
    cases = [
        ("GET", "/api/profiles/%00", "username"),
        ("POST", "/api/profiles/a%00b/follow", "username"),
        ("GET", "/api/articles/a%00", "slug"),
        ("GET", "/api/articles/a%00/comments", "slug"),
        ("DELETE", f"/api/articles/{slug}%00/comments/1", "slug"),
        ("POST", "/api/notifications/%00/read", "notification_id"),
        ("PUT", "/api/admin/users/%00/role", "username"),
    ]
    for method, path, name in cases:
        response = api.request(
            method, path, headers=admin[1], json={"role": "user"} if method == "PUT" else None
        )
        assert (response.status_code, response.json()) == (
            422,
            {"errors": {name: [NUL_MESSAGE]}},
        ), (method, path)


def test_nul_in_a_query_is_422_naming_the_parameter(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]]
) -> None:
    cases = [
        ("/api/articles?tag=%00", "tag"),
        ("/api/articles?author=a%00b", "author"),
        ("/api/articles?favorited=%00", "favorited"),
        ("/api/articles?limit=1%00", "limit"),
        ("/api/articles/feed?offset=%00", "offset"),
        ("/api/notifications?unread=%00", "unread"),
        ("/api/articles?tag=ok&x%00=1", "query"),
    ]
    for target, name in cases:
        response = api.get(target, headers=admin[1])
        assert (response.status_code, response.json()) == (
            422,
            {"errors": {name: [NUL_MESSAGE]}},
        ), target


@pytest.mark.parametrize(
    ("target", "part", "message"),
    [
        (b"/api/articles?tag=%ff", "query", "is not valid UTF-8"),
        (b"/api/articles?tag=%e2%82", "query", "is not valid UTF-8"),
        (b"/api/articles?tag=%ed%a0%80", "query", "is not valid UTF-8"),
        (b"/api/articles?tag=%", "query", "is not valid percent-encoding"),
        (b"/api/articles?tag=%zz", "query", "is not valid percent-encoding"),
        (b"/api/profiles/%ff", "path", "is not valid UTF-8"),
        (b"/api/profiles/%", "path", "is not valid percent-encoding"),
    ],
)
def test_broken_percent_encoding_is_400(
    server: RunningServer, target: bytes, part: str, message: str
) -> None:
    status, body = raw_get(server, target)
    assert (status, httpx.Response(status, content=body).json()) == (
        400,
        {"errors": {part: [message]}},
    )


@pytest.mark.parametrize(
    "target", [b"/api/articles?tag=\xff", b"/api/profiles/\xff", b"/api/articles?tag=a\x00b"]
)
def test_raw_bytes_in_the_target_are_refused_by_the_server_before_the_app(
    server: RunningServer, target: bytes
) -> None:
    status, _ = raw_get(server, target)
    assert status == 400


@pytest.mark.parametrize(
    "target",
    [
        f"/api/articles?limit={HUGE}",
        f"/api/articles?offset={HUGE}",
        f"/api/articles?limit=-{HUGE}",
        "/api/articles?limit=1e400",
        f"/api/articles/feed?offset={HUGE}",
        f"/api/notifications?limit={HUGE}",
        f"/api/notifications?offset={2**63}",
    ],
)
def test_a_huge_number_in_the_query_is_422(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], target: str
) -> None:
    response = api.get(target, headers=admin[1])
    assert response.status_code == 422, response.text
    name = target.split("?")[1].split("=", maxsplit=1)[0]
    assert list(response.json()["errors"]) == [name]


def test_a_huge_id_in_the_path_is_not_found(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], slug: str
) -> None:
    for comment_id in (HUGE, 2**63, -(2**63) - 1):
        response = api.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=admin[1])
        assert (response.status_code, response.json()) == (
            404,
            {"errors": {"comment": ["not found"]}},
        )
    response = api.post(f"/api/notifications/{HUGE}/read", headers=admin[1])
    assert (response.status_code, response.json()) == (
        404,
        {"errors": {"notification": ["not found"]}},
    )
    assert api.delete(f"/api/auth/sessions/{HUGE}", headers=admin[1]).status_code == 404
