"""The pages behind emailed links, in-process on the memory adapters (docs/pages.md).

Each flow follows the link a mail carries, submits the page's form, and checks the account
changed; every bad input (missing, malformed, forged, expired or used token, a replayed form,
a wrong or missing CSRF value, a cross-site post, a wrong method) gets a page with a 4xx and
changes nothing. A link whose token can no longer be spent says so when it is opened.
"""

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient
from loguru import logger

from adapters.memory.database import InMemoryDatabase
from adapters.memory.system import ManualClock
from adapters.memory.users import InMemoryUserRepository
from application.common.ports.clock import Clock
from domain.users.values import Email
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.config.errors import ConfigurationError
from entrypoints.http.app import create_app
from entrypoints.http.pages import PAGE_POLICY
from entrypoints.http.pages.rendering import STYLESHEET
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from tests.support.mail import mailed
from tests.support.pages import hidden_fields, link_in, path_and_query

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
PASSWORD = "password123"
NEW_PASSWORD = "a long new passphrase"
Client = AsyncTestClient[Litestar]


class ClockProvider(Provider):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self._clock = clock

    @provide(scope=Scope.APP, override=True)
    def clock(self) -> Clock:
        return self._clock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def database() -> InMemoryDatabase:
    return InMemoryDatabase()


def build_app(
    tmp_path: Path, clock: ManualClock, database: InMemoryDatabase | None = None, **env: str
) -> Litestar:
    settings = with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": UNREACHABLE,
                "DATA_DIR": str(tmp_path),
                "OUTBOX_RELAY_IN_API": "false",  # the manual clock would hold its sleeps
                **env,
            },
            env_file=None,
        )
    )
    container = make_container(
        settings, InMemoryPersistenceProvider(database), ClockProvider(clock)
    )
    return create_app(container, settings)


@pytest.fixture
async def client(
    tmp_path: Path, clock: ManualClock, database: InMemoryDatabase
) -> AsyncIterator[Client]:
    async with AsyncTestClient(build_app(tmp_path, clock, database)) as client:
        yield client


async def verified(database: InMemoryDatabase, address: str) -> bool:
    user = await InMemoryUserRepository(database).get_by_email(Email(address))
    assert user is not None
    return user.email_verified_at is not None


async def register(client: Client, name: str = "ada") -> dict[str, Any]:
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    response = await client.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json()["user"])


async def current_user(client: Client, email: str, password: str) -> dict[str, Any] | None:
    login = {"user": {"email": email, "password": password}}
    response = await client.post("/api/users/login", json=login)
    if response.status_code != 200:
        return None
    token = response.json()["user"]["token"]
    me = await client.get("/api/user", headers={"Authorization": f"Token {token}"})
    return dict(me.json()["user"])


def mailed_link(tmp_path: Path, address: str, subject: str, path: str) -> str:
    return path_and_query(link_in(mailed(tmp_path, address, subject), path))


TOKEN_PATHS = ["/verify-email", "/reset-password", "/restore-email"]
_SUBJECTS = {
    "/verify-email": "Confirm your email address",
    "/reset-password": "Reset your password",
    "/restore-email": "The email address of your account was changed",
}


async def link_to(client: Client, tmp_path: Path, path: str) -> str:
    """A fresh account ada, and the link to `path` mailed to ada@test.com."""
    user = await register(client)
    if path == "/reset-password":
        asked = await client.post("/api/auth/password-reset", json={"email": "ada@test.com"})
        assert asked.status_code == 202, asked.text
    if path == "/restore-email":
        changed = await client.put(
            "/api/user",
            json={"user": {"email": "mallory@test.com"}},
            headers={"Authorization": f"Token {user['token']}"},
        )
        assert changed.status_code == 200, changed.text
    return mailed_link(tmp_path, "ada@test.com", _SUBJECTS[path], path)


def with_new_password(fields: dict[str, str]) -> dict[str, str]:
    """A form's fields, filled in; the verification form ignores the passwords."""
    return {**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}


def assert_link_unusable(page: Any) -> None:
    assert page.status_code == 410, page.text
    assert "This link can no longer be used" in page.text
    assert "It has expired, it was used already, or it is not a link we sent." in page.text
    assert page.headers["content-security-policy"] == PAGE_POLICY
    assert "set-cookie" not in page.headers  # no form, so no CSRF value either


async def open_form(client: Client, link: str) -> dict[str, str]:
    page = await client.get(link)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    fields = hidden_fields(page.text)
    assert set(fields) == {"token", "csrf"}
    return fields


async def test_confirming_an_address_takes_the_posted_form_not_the_link(
    client: Client, tmp_path: Path, database: InMemoryDatabase
) -> None:
    await register(client)
    link = mailed_link(tmp_path, "ada@test.com", "Confirm your email address", "/verify-email")
    fields = await open_form(client, link)
    await open_form(client, link)  # a mail scanner fetching the link changes nothing
    assert not await verified(database, "ada@test.com")
    done = await client.post("/verify-email", data=fields)
    assert done.status_code == 200, done.text
    assert "Your email address is confirmed" in done.text
    assert await verified(database, "ada@test.com")
    replayed = await client.post("/verify-email", data=fields)
    assert replayed.status_code == 410
    assert "This link can no longer be used" in replayed.text


async def test_a_password_reset_checks_both_entries_and_the_rules_before_spending_the_link(
    client: Client, tmp_path: Path
) -> None:
    await register(client)
    assert (
        await client.post("/api/auth/password-reset", json={"email": "ada@test.com"})
    ).status_code == 202
    link = mailed_link(tmp_path, "ada@test.com", "Reset your password", "/reset-password")
    page = await client.get(link)
    assert 'minlength="8"' in page.text
    assert 'maxlength="256"' in page.text
    assert '<label for="password">' in page.text
    assert '<label for="confirm">' in page.text
    fields = hidden_fields(page.text)
    differ = await client.post(
        "/reset-password", data={**fields, "password": NEW_PASSWORD, "confirm": "other one!"}
    )
    assert differ.status_code == 422
    assert "The two passwords differ" in differ.text
    assert 'role="alert"' in differ.text
    short = await client.post(
        "/reset-password", data={**fields, "password": "short", "confirm": "short"}
    )
    assert short.status_code == 422
    assert "The password is too short (minimum is 8 characters)." in short.text
    assert hidden_fields(short.text) == fields  # the form again, the link still unspent
    done = await client.post(
        "/reset-password", data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.text
    assert await current_user(client, "ada@test.com", PASSWORD) is None
    assert await current_user(client, "ada@test.com", NEW_PASSWORD) is not None
    again = await client.post(
        "/reset-password",
        data={**fields, "password": "yet another one", "confirm": "yet another one"},
    )
    assert again.status_code == 410
    assert await current_user(client, "ada@test.com", NEW_PASSWORD) is not None


async def test_undoing_an_email_change_restores_the_address_with_a_new_password(
    client: Client, tmp_path: Path
) -> None:
    user = await register(client)
    changed = await client.put(
        "/api/user",
        json={"user": {"email": "mallory@test.com"}},
        headers={"Authorization": f"Token {user['token']}"},
    )
    assert changed.status_code == 200, changed.text
    subject = "The email address of your account was changed"
    fields = await open_form(
        client, mailed_link(tmp_path, "ada@test.com", subject, "/restore-email")
    )
    done = await client.post(
        "/restore-email", data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.text
    assert "Your email address is back" in done.text
    restored = await current_user(client, "ada@test.com", NEW_PASSWORD)
    assert restored is not None
    assert restored["email"] == "ada@test.com"


async def test_an_expired_link_gets_a_page_and_changes_nothing(
    client: Client, tmp_path: Path, clock: ManualClock, database: InMemoryDatabase
) -> None:
    await register(client)
    link = mailed_link(tmp_path, "ada@test.com", "Confirm your email address", "/verify-email")
    fields = await open_form(client, link)
    clock.advance(timedelta(hours=49))
    expired = await client.post("/verify-email", data=fields)
    assert expired.status_code == 410
    assert "It has expired, it was used already" in expired.text
    assert not await verified(database, "ada@test.com")


@pytest.mark.parametrize("path", TOKEN_PATHS)
async def test_bad_links_and_forms_get_a_page_with_a_4xx(
    client: Client, tmp_path: Path, clock: ManualClock, path: str
) -> None:
    assert (await client.get(path)).status_code == 400  # no token
    assert (await client.get(f"{path}?token=")).status_code == 400
    assert (await client.get(f"{path}?token=%3Cscript%3E")).status_code == 400
    assert (await client.get(f"{path}?token=a&token=b")).status_code == 422
    body = with_new_password(await open_form(client, await link_to(client, tmp_path, path)))
    wrong = await client.post(path, data={**body, "csrf": "0" * 64})
    assert wrong.status_code == 403
    other_link = await client.post(path, data={**body, "token": "G" * 43})
    assert other_link.status_code == 403  # a CSRF value is bound to its link's token
    cross_site = await client.post(path, data=body, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    clock.advance(timedelta(days=30))  # the link expires while its form is open
    expired = await client.post(path, data=body)
    assert expired.status_code == 410, expired.text
    client.cookies.clear()
    no_cookie = await client.post(path, data=body)
    assert no_cookie.status_code == 403
    assert "This form has expired" in no_cookie.text
    empty = await client.post(path, data={})
    assert empty.status_code == 400
    not_utf8 = await client.post(
        path, content=b"token=%ff%fe", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert not_utf8.status_code == 400
    for response in (expired, wrong, other_link, cross_site, no_cookie, empty, not_utf8):
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == PAGE_POLICY


@pytest.mark.parametrize("path", TOKEN_PATHS)
async def test_opening_a_link_that_cannot_be_spent_says_so_before_any_form(
    client: Client, tmp_path: Path, clock: ManualClock, path: str
) -> None:
    forged = await client.get(f"{path}?token={'F' * 43}")
    assert_link_unusable(forged)
    link = await link_to(client, tmp_path, path)
    other_purpose = next(other for other in TOKEN_PATHS if other != path)
    assert_link_unusable(await client.get(link.replace(path, other_purpose, 1)))
    await open_form(client, link)  # usable until it expires
    clock.advance(timedelta(days=30))
    assert_link_unusable(await client.get(link))
    assert forged.text == (await client.get(link)).text  # one answer for forged and expired


@pytest.mark.parametrize("path", TOKEN_PATHS)
async def test_opening_a_link_spends_nothing_and_a_used_one_says_so(
    client: Client, tmp_path: Path, path: str
) -> None:
    link = await link_to(client, tmp_path, path)
    await open_form(client, link)
    fields = await open_form(client, link)  # opened twice: a mail scanner, then its reader
    done = await client.post(path, data=with_new_password(fields))
    assert done.status_code == 200, done.text
    assert_link_unusable(await client.get(link))
    replayed = await client.post(path, data=with_new_password(fields))
    assert replayed.status_code == 410  # the form opened before it was used is refused too


async def test_a_verification_link_to_an_address_the_account_left_says_so_when_opened(
    client: Client, tmp_path: Path, database: InMemoryDatabase
) -> None:
    user = await register(client)
    link = mailed_link(tmp_path, "ada@test.com", "Confirm your email address", "/verify-email")
    changed = await client.put(
        "/api/user",
        json={"user": {"email": "mallory@test.com"}},
        headers={"Authorization": f"Token {user['token']}"},
    )
    assert changed.status_code == 200, changed.text
    assert_link_unusable(await client.get(link))
    assert not await verified(database, "mallory@test.com")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/verify-email", {"GET", "POST", "OPTIONS"}),
        ("DELETE", "/reset-password?token=x", {"GET", "POST", "OPTIONS"}),
        ("PATCH", "/restore-email", {"GET", "POST", "OPTIONS"}),
        ("DELETE", "/settings", {"GET", "OPTIONS"}),
        ("POST", "/article/how-to-train", {"GET", "OPTIONS"}),
        ("PUT", "/profile/ada/", {"GET", "OPTIONS"}),
    ],
)
async def test_a_wrong_method_on_a_page_gets_a_page(
    client: Client, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert response.headers["cache-control"] == "no-store"
    assert set(response.headers["allow"].split(", ")) == allowed
    assert "This page cannot be used that way" in response.text
    assert "Nothing was changed." in response.text


async def test_a_wrong_method_on_the_api_keeps_its_json(client: Client) -> None:
    response = await client.delete("/api/user")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"errors": {"method": ["is not allowed on this route"]}}
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "OPTIONS"}
    assert "style-src" not in response.headers["content-security-policy"]


async def test_a_wrong_csrf_value_leaves_the_link_usable(client: Client, tmp_path: Path) -> None:
    await register(client)
    link = mailed_link(tmp_path, "ada@test.com", "Confirm your email address", "/verify-email")
    fields = await open_form(client, link)
    assert (await client.post("/verify-email", data={**fields, "csrf": "x"})).status_code == 403
    assert (await client.post("/verify-email", data=fields)).status_code == 200


async def test_the_pages_headers_keep_them_self_contained_and_tokens_out_of_referers(
    client: Client, tmp_path: Path
) -> None:
    page = await client.get(await link_to(client, tmp_path, "/reset-password"))
    assert page.status_code == 200, page.text
    headers = page.headers
    assert headers["content-security-policy"] == PAGE_POLICY
    for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in PAGE_POLICY
    assert "script-src" not in PAGE_POLICY
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    style = re.search(r"<style>(.*?)</style>", page.text, re.DOTALL)
    assert style is not None
    assert style[1] == STYLESHEET
    digest = base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PAGE_POLICY
    assert '<html lang="en">' in page.text
    assert 'name="viewport"' in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


async def test_no_log_line_carries_a_links_token(client: Client, tmp_path: Path) -> None:
    await register(client)
    link = mailed_link(tmp_path, "ada@test.com", "Confirm your email address", "/verify-email")
    forged = "S3cretLinkToken" + "x" * 28
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    try:
        fields = await open_form(client, link)
        await client.post("/verify-email", data=fields)
        await client.get(f"/verify-email?token={forged}")
    finally:
        logger.remove(sink)
    assert any("GET /verify-email 200" in line for line in lines), lines
    assert any("GET /verify-email 410" in line for line in lines), lines
    assert not [line for line in lines for token in (fields["token"], forged) if token in line]


async def test_form_bodies_are_taken_by_the_pages_only(client: Client) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    api = await client.post("/api/auth/verify-email", content=b"token=x", headers=form)
    assert api.status_code == 415
    assert api.headers["content-type"].startswith("application/json")


async def test_landing_pages_say_where_the_content_is(client: Client) -> None:
    for path, api_route in [
        ("/article/how-to-train", "GET /api/articles/how-to-train"),
        ("/profile/ada", "GET /api/profiles/ada"),
        ("/settings", "/api/notifications/preferences"),
    ]:
        page = await client.get(path)
        assert page.status_code == 200
        assert api_route in page.text
        assert page.headers["content-security-policy"] == PAGE_POLICY


async def test_with_a_frontend_links_and_landing_pages_lead_there(
    tmp_path: Path, clock: ManualClock
) -> None:
    app = build_app(
        tmp_path,
        clock,
        LINKS_FRONTEND_URL="https://app.example.com/conduit",
        LINKS_ARTICLE_PATH="/#/article/{slug}",
        LINKS_VERIFY_EMAIL_PATH="/#/verify?code={token}",
    )
    async with AsyncTestClient(app) as client:
        await register(client)
        text = mailed(tmp_path, "ada@test.com", "Confirm your email address")
        assert "https://app.example.com/conduit/#/verify?code=" in text
        token = text.split("#/verify?code=", 1)[1].split()[0]
        article = await client.get("/article/a b", follow_redirects=False)
        assert article.status_code == 302
        assert article.headers["location"] == "https://app.example.com/conduit/#/article/a%20b"
        settings = await client.get("/settings", follow_redirects=False)
        assert settings.headers["location"] == "https://app.example.com/conduit/settings"
        # A link mailed before the frontend was set still works on the built-in page.
        assert (await client.get(f"/verify-email?token={token}")).status_code == 200


def test_the_pages_are_not_in_the_api_document(tmp_path: Path, clock: ManualClock) -> None:
    paths = build_app(tmp_path, clock).openapi_schema.to_schema()["paths"]
    assert not [path for path in paths if not path.startswith(("/api/", "/health"))]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LINKS_FRONTEND_URL", "ftp://app.example.com"),
        ("LINKS_FRONTEND_URL", "https://app.example.com/?x=1"),
        ("LINKS_FRONTEND_URL", "app.example.com"),
        ("LINKS_VERIFY_EMAIL_PATH", "/verify"),
        ("LINKS_RESET_PASSWORD_PATH", "/reset?t={token}&again={token}"),
        ("LINKS_ARTICLE_PATH", "article/{slug}"),
        ("LINKS_PROFILE_PATH", "/profile/{user}"),
        ("LINKS_SETTINGS_PATH", "/settings/{token}"),
        ("LINKS_SETTINGS_PATH", "/set tings"),
    ],
)
def test_link_settings_are_checked(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"DATABASE_URL": UNREACHABLE, variable: value}, env_file=None)
    assert variable in str(caught.value)


def test_a_production_frontend_must_be_https() -> None:
    env = {
        "APP_ENV": "production",
        "JWT_SECRET": "s" * 64,
        "AUDIT_SIGNING_KEY": "a" * 32,
        "DATABASE_URL": UNREACHABLE,
        "APP_PUBLIC_URL": "https://api.example.com",
        "LINKS_FRONTEND_URL": "http://app.example.com",
    }
    with pytest.raises(ConfigurationError, match="LINKS_FRONTEND_URL"):
        load_settings(env, env_file=None)
