"""The pages behind emailed links, in headless Chromium against `portico serve` (docs/pages.md).

A mail arrives at a real SMTP server, the browser follows its link, fills in and submits
the form, and the account changes: verification, password reset, undoing an email change,
and a landing page. Each page is screenshotted into the test's temporary directory. Chromium
is Debian's (`.ci/run` installs it), driven by Playwright through `executable_path`.
"""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from adapters.sqlalchemy.engine import to_psycopg_url
from adapters.sqlalchemy.tables import users
from tests.support.network import free_port
from tests.support.notifications import Inbox, sent_to, smtp_server
from tests.support.pages import link_in
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

PASSWORD = "password123"
NEW_PASSWORD = "a long new passphrase"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = ViewportSize(width=390, height=844)


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is not installed: apt-get install -y chromium (.ci/run)")
    return found


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def server(
    migrated_url: str, inbox: tuple[Inbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    port = free_port()
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("pages-data")),
        APP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(inbox[1]),
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )
    with portico_server(port, env, tmp_path_factory.mktemp("pages")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def register(api: httpx.Client) -> str:
    name = f"p{uuid.uuid4().hex[:10]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    assert api.post("/api/users", json=body).status_code == 201
    return name


def signs_in(api: httpx.Client, email: str, password: str) -> dict[str, Any] | None:
    response = api.post("/api/users/login", json={"user": {"email": email, "password": password}})
    return dict(response.json()["user"]) if response.status_code == 200 else None


def mailed_link(inbox: tuple[Inbox, int], address: str, subject: str, path: str) -> str:
    mail = inbox[0].wait_for(sent_to(address, subject), within=15)
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    return link_in(str(body.get_content()), path)


def verified(migrated_url: str, email: str) -> bool:
    engine = sa.create_engine(to_psycopg_url(migrated_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            at = connection.scalar(
                sa.select(users.c.email_verified_at).where(users.c.email == email)
            )
    finally:
        engine.dispose()
    return at is not None


def shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / f"{name}.png", full_page=True)


def test_confirming_an_address_from_the_mailed_link(  # noqa: PLR0917 - pytest fixtures
    page: Page,
    api: httpx.Client,
    inbox: tuple[Inbox, int],
    server: RunningServer,
    migrated_url: str,
    tmp_path: Path,
) -> None:
    name = register(api)
    address = f"{name}@test.com"
    link = mailed_link(inbox, address, "Confirm your email address", "/verify-email")
    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, tmp_path, "verify-email-form")
    assert not verified(migrated_url, address)  # opening the link changed nothing
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_role("heading", name="Your email address is confirmed")).to_be_visible()
    assert page.url.endswith("/verify-email")  # the token left the address bar
    shot(page, tmp_path, "verify-email-done")
    assert verified(migrated_url, address)
    used = page.goto(link)  # opened again once used: it says so before showing any form
    assert used is not None
    assert used.status == 410
    expect(page.get_by_role("heading", name="This link can no longer be used")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)
    shot(page, tmp_path, "verify-email-used")
    token = link.split("token=", 1)[1]
    assert token not in server.log()


def test_resetting_a_password_from_the_mailed_link(
    page: Page, api: httpx.Client, inbox: tuple[Inbox, int], server: RunningServer, tmp_path: Path
) -> None:
    name = register(api)
    address = f"{name}@test.com"
    assert api.post("/api/auth/password-reset", json={"email": address}).status_code == 202
    link = mailed_link(inbox, address, "Reset your password", "/reset-password")
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    shot(page, tmp_path, "reset-password-form")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm"
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Type it again").fill("something else entirely")
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("alert")).to_contain_text("The two passwords differ")
    shot(page, tmp_path, "reset-password-mismatch")
    assert signs_in(api, address, PASSWORD) is not None  # nothing changed
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Type it again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("heading", name="Your password is changed")).to_be_visible()
    shot(page, tmp_path, "reset-password-done")
    assert signs_in(api, address, PASSWORD) is None
    assert signs_in(api, address, NEW_PASSWORD) is not None
    assert link.split("token=", 1)[1] not in server.log()


def test_undoing_an_email_change_from_the_mailed_link(
    page: Page, api: httpx.Client, inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    name = register(api)
    address = f"{name}@test.com"
    user = signs_in(api, address, PASSWORD)
    assert user is not None
    changed = api.put(
        "/api/user",
        json={"user": {"email": f"{name}-taken@test.com"}},
        headers={"Authorization": f"Token {user['token']}"},
    )
    assert changed.status_code == 200, changed.text
    subject = "The email address of your account was changed"
    page.goto(mailed_link(inbox, address, subject, "/restore-email"))
    expect(page.get_by_role("heading", name="Take back your email address")).to_be_visible()
    shot(page, tmp_path, "restore-email-form")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Type it again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Restore my address").click()
    expect(page.get_by_role("heading", name="Your email address is back")).to_be_visible()
    shot(page, tmp_path, "restore-email-done")
    restored = signs_in(api, address, NEW_PASSWORD)
    assert restored is not None
    assert restored["email"] == address


def test_a_notification_link_lands_on_a_page_saying_where_the_content_is(
    page: Page, server: RunningServer, tmp_path: Path
) -> None:
    page.goto(f"{server.base_url}/article/how-to-train-your-dragon")
    expect(page.get_by_role("heading", name="An article")).to_be_visible()
    expect(page.get_by_text("GET /api/articles/how-to-train-your-dragon")).to_be_visible()
    shot(page, tmp_path, "article-landing")


def test_a_link_without_its_token_gets_a_clear_page(
    page: Page, server: RunningServer, tmp_path: Path
) -> None:
    response = page.goto(f"{server.base_url}/reset-password")
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("heading", name="This link is incomplete")).to_be_visible()
    shot(page, tmp_path, "reset-password-incomplete")
