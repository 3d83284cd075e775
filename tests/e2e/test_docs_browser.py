"""The API reference at /docs, in headless Chromium with the network cut off (docs/security.md).

Every request the page makes is routed through the test: one to the server's own origin
goes through, any other is recorded and aborted, as on a machine with no internet. The
page must still show the operations, having asked nothing of any other host, and break
none of its own Content-Security-Policy. Chromium is Debian's (`.ci/run` installs it),
driven by Playwright through `executable_path`.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from entrypoints.http.controllers.docs import API_REFERENCE_POLICY
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NOT_NETWORK = {"data", "blob", "about"}
VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""
"""Runs before the page's own scripts (Playwright's init scripts are not subject to its CSP)."""


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is not installed: apt-get install -y chromium (.ci/run)")
    return found


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    port = free_port()
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("docs-data")),
        APP_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    with portico_server(port, env, tmp_path_factory.mktemp("docs")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Offline:
    """Lets requests to one origin through and aborts every other, recording each."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.allowed: list[str] = []
        self.refused: list[str] = []

    def __call__(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in NOT_NETWORK:
            route.continue_()
        elif f"{parts.scheme}://{parts.netloc}" == self.origin:
            self.allowed.append(url)
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")


@pytest.fixture
def offline(browser: Browser, server: RunningServer) -> Iterator[tuple[Page, Offline, list[str]]]:
    context = browser.new_context()
    network = Offline(server.base_url)
    context.route("**/*", network)
    page = context.new_page()
    page.add_init_script(VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    yield page, network, console
    context.close()


def test_the_reference_shows_the_operations_with_no_other_host_reachable(
    offline: tuple[Page, Offline, list[str]], server: RunningServer, tmp_path: Path
) -> None:
    page, network, console = offline
    response = page.goto(f"{server.base_url}/docs")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-security-policy"] == API_REFERENCE_POLICY
    expect(page.get_by_role("heading", name="Liveness")).to_be_visible(timeout=10_000)
    page.get_by_role("button", name="Open Group - users").click()
    page.get_by_role("complementary").get_by_text("Register", exact=True).click()
    expect(page.get_by_role("heading", name="Register", exact=True)).to_be_visible()
    expect(page.get_by_text("Register a user and sign them in.")).to_be_visible()
    expect(page.get_by_text("/api/users", exact=True).first).to_be_visible()
    page.screenshot(path=tmp_path / "docs.png")
    assert network.refused == []
    assert {urlsplit(url).path for url in network.allowed} >= {"/docs", "/schema/openapi.json"}
    assert page.evaluate("window.__violations") == []
    assert [line for line in console if line.startswith(("error:", "pageerror:"))] == []


def test_a_request_sent_from_the_reference_goes_to_the_origin_itself(
    offline: tuple[Page, Offline, list[str]], server: RunningServer
) -> None:
    """No proxy stands between the reference's client and the API: it would see the token."""
    page, network, console = offline
    page.goto(f"{server.base_url}/docs")
    page.get_by_role("button", name="Test Request").first.click()
    page.get_by_role("button", name="Send get request").click()
    expect(page.get_by_text("200 OK")).to_be_visible()
    assert f"{server.base_url}/health/live" in network.allowed
    assert network.refused == []
    assert page.evaluate("window.__violations") == []
    assert [line for line in console if line.startswith(("error:", "pageerror:"))] == []
