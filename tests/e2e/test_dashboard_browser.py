"""The live admin dashboard in headless Chromium, against `portico serve --workers 2` on
PostgreSQL and Redis (docs/observability.md, "Dashboard").

An administrator made with `portico users create-admin` signs in on /admin with the normal
login and watches: an article published through the API moves the "New articles" counter
within 2 seconds, and both API processes report. A user who is not an administrator signs in
too and gets no figures: the stream answers 403 and the page says so. Every request the page
makes stays on the server's origin, the console shows no Content-Security-Policy violation,
and each page is screenshotted into the test's temporary directory (the path is printed).
Chromium is Debian's (`.ci/run` installs it), driven by Playwright through `executable_path`.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.e2e.test_pages_browser import CHROMIUM_ARGS, chromium_path
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server, run_portico_with_input

pytestmark = pytest.mark.e2e

PASSWORD = "a long admin passphrase"
DESKTOP = ViewportSize(width=1280, height=1000)
STREAM = "/api/admin/dashboard/stream"
COUNTER_WITHIN_MS = 2_000
NO_FIGURE = "\u2013"
"""What a tile shows without a figure (an en dash)."""


@dataclass
class Deployment:
    """The server, and the administrator's credentials."""

    server: RunningServer
    admin_email: str


@pytest.fixture(scope="module")
def deployment(
    migrated_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    port = free_port()
    root = tmp_path_factory.mktemp("dashboard")
    env = clean_env(
        DATABASE_URL=migrated_url,
        REDIS_URL=redis_url,
        APP_NAME=f"dash{uuid.uuid4().hex[:8]}",
        DATA_DIR=str(root / "data"),
        APP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        JWT_SECRET="dashboard-browser-test-secret-0123456789abcdef",
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )
    name = f"root{uuid.uuid4().hex[:8]}"
    made = run_portico_with_input(
        [
            "users",
            "create-admin",
            "--email",
            f"{name}@test.com",
            "--username",
            name,
            "--password-stdin",
        ],
        env,
        root,
        PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    with portico_server(port, env, root, "--workers", "2") as server:
        yield Deployment(server, f"{name}@test.com")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page, and what it asked for and complained about."""

    page: Page
    requests: list[str] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def watched(browser: Browser, deployment: Deployment) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP, base_url=deployment.server.base_url)
    page = context.new_page()
    seen = Watched(page)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on(
        "response",
        lambda response: seen.streams.append(response.status) if STREAM in response.url else None,
    )
    page.on("console", lambda message: seen.console.append(message.text))
    page.on("pageerror", lambda error: seen.console.append(str(error)))
    yield seen
    context.close()
    origin = deployment.server.base_url + "/"
    assert [url for url in seen.requests if not url.startswith(origin)] == []
    violations = [
        text
        for text in seen.console
        if "Content Security Policy" in text or "Refused" in text or "TrustedHTML" in text
    ]
    assert violations == []


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/admin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def token_of(api: httpx.Client, email: str, password: str) -> str:
    response = api.post("/api/users/login", json={"user": {"email": email, "password": password}})
    assert response.status_code == 200, response.text
    return str(response.json()["user"]["token"])


def shot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")  # noqa: T201 - where the artifact is


def test_an_admin_sees_a_published_article_counted_within_two_seconds(
    watched: Watched, deployment: Deployment, tmp_path: Path
) -> None:
    page = watched.page
    sign_in(page, deployment.admin_email, PASSWORD)
    articles = page.locator("#articles")
    expect(page.locator("#dashboard")).to_be_visible()
    expect(articles).not_to_have_text(NO_FIGURE)
    expect(page.locator("#api-processes")).to_have_text("2", timeout=5_000)
    expect(page.locator("#live-connections")).not_to_have_text(NO_FIGURE)
    before = int(articles.inner_text())

    with httpx.Client(base_url=deployment.server.base_url, timeout=10) as api:
        token = token_of(api, deployment.admin_email, PASSWORD)
        article = {"title": f"Watched {uuid.uuid4().hex[:6]}", "description": "d", "body": "b"}
        started = time.monotonic()
        published = api.post(
            "/api/articles", json={"article": article}, headers={"Authorization": f"Token {token}"}
        )
        assert published.status_code == 201, published.text
        left_ms = COUNTER_WITHIN_MS - (time.monotonic() - started) * 1000
        expect(articles).to_have_text(str(before + 1), timeout=left_ms)
        moved = time.monotonic() - started
        print(f"the counter moved {moved:.2f}s after the article was sent")  # noqa: T201

    audit = page.locator("#audit-entries")
    expect(audit.get_by_text("article.publish")).to_be_visible(timeout=3_000)
    expect(page.locator("#requests-per-second")).not_to_have_text("0", timeout=5_000)
    for chart in ("#chart-requests", "#chart-latency", "#chart-activity"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    assert watched.streams == [200]
    shot(page, tmp_path, "admin-dashboard")


def test_a_user_who_is_not_an_admin_gets_no_figures(
    watched: Watched, deployment: Deployment, tmp_path: Path
) -> None:
    name = f"u{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=deployment.server.base_url, timeout=10) as api:
        body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
        assert api.post("/api/users", json=body).status_code == 201
    page = watched.page
    sign_in(page, f"{name}@test.com", PASSWORD)
    expect(
        page.get_by_role("heading", name="This account cannot watch the dashboard")
    ).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    outputs = page.locator(".tile output")
    expect(outputs).to_have_count(12)
    assert set(outputs.all_inner_texts()) == {NO_FIGURE}
    expect(page.locator("#audit-entries tr")).to_have_count(0)
    assert watched.streams == [403]
    shot(page, tmp_path, "admin-dashboard-refused")
