"""The API reference page and its vendored assets, served by Portico itself (docs/security.md).

That the page renders with the network cut off is tests/e2e/test_docs_browser.py; here,
what it names, how its assets are served, and that the vendored bundle is what its note says.
"""

import hashlib
import json
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from entrypoints.http.controllers.docs import (
    API_REFERENCE_POLICY,
    ASSETS,
    OPENAPI_JSON_PATH,
    SCALAR_BUNDLE,
    SCALAR_CONFIGURATION,
    SCALAR_VERSION,
    START_SCRIPT,
    api_reference,
    api_reference_asset,
)

YEAR = 365 * 24 * 3600
ALLOWED_SOURCES = {
    "default-src": {"'none'"},
    "script-src": {"'self'"},
    "style-src": {"'self'", "'unsafe-inline'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "base-uri": {"'none'"},
    "form-action": {"'none'"},
    "frame-ancestors": {"'none'"},
}


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the text inside each script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    with TestClient(Litestar([api_reference, api_reference_asset], logging_config=None)) as client:
        yield client


@pytest.fixture(scope="module")
def page(client: TestClient[Litestar]) -> Elements:
    response = client.get("/docs")
    assert response.status_code == 200
    parsed = Elements()
    parsed.feed(response.text)
    return parsed


def test_the_vendored_bundle_is_the_version_and_file_its_note_names() -> None:
    folder = SCALAR_BUNDLE.path.parent
    note = dict(
        line.split(": ", 1) for line in (folder / "VERSION").read_text().splitlines() if line
    )
    body = SCALAR_BUNDLE.path.read_bytes()
    assert note["package"] == "@scalar/api-reference"
    assert note["version"] == SCALAR_VERSION
    assert note["sha256"] == hashlib.sha256(body).hexdigest()
    assert f"@scalar/api-reference {SCALAR_VERSION}".encode() in body
    assert "MIT License" in (folder / "LICENSE").read_text()


def test_the_page_loads_its_two_scripts_from_this_origin_and_nothing_else(page: Elements) -> None:
    scripts = [attrs.get("src") for tag, attrs in page.tags if tag == "script"]
    assert scripts == [START_SCRIPT.url, SCALAR_BUNDLE.url]
    assert "".join(page.script_text).strip() == ""
    assert [tag for tag, _ in page.tags if tag in {"link", "style", "img", "iframe"}] == []
    assert [tag for tag, attrs in page.tags if "style" in attrs] == []
    for _, attrs in page.tags:
        for value in attrs.values():
            assert "//" not in (value or ""), value


def test_the_mount_point_carries_the_document_and_the_settings_intact(page: Elements) -> None:
    (mount,) = [attrs for _, attrs in page.tags if attrs.get("id") == "portico-api-reference"]
    assert mount["data-document"] == OPENAPI_JSON_PATH
    assert json.loads(mount["data-settings"] or "") == SCALAR_CONFIGURATION


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_an_asset_is_served_for_a_year_at_the_digest_of_its_bytes(
    client: TestClient[Litestar], name: str
) -> None:
    asset = ASSETS[name]
    response = client.get(asset.url)
    assert response.status_code == 200
    assert response.content == asset.path.read_bytes()
    assert asset.digest == hashlib.sha256(response.content).hexdigest()[:16]
    assert response.headers["content-type"].split(";")[0] == "text/javascript"
    assert response.headers["content-disposition"].startswith("inline")
    directives = {part.strip() for part in response.headers["cache-control"].split(",")}
    assert {"public", f"max-age={YEAR}", "immutable"} <= directives


@pytest.mark.parametrize(
    "path",
    [
        f"/docs/assets/{'0' * 16}/standalone.js",
        f"/docs/assets/{SCALAR_BUNDLE.digest}/VERSION",
        f"/docs/assets/{SCALAR_BUNDLE.digest}/LICENSE",
        f"/docs/assets/{SCALAR_BUNDLE.digest}/..%2Fapi-reference%2Fstart.js",
    ],
)
def test_anything_but_a_current_asset_is_not_found_and_not_kept(
    client: TestClient[Litestar], path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "immutable" not in response.headers.get("cache-control", "")


def test_the_page_policy_allows_this_origin_only() -> None:
    """No host, no inline or evaluated script; inline styles are Scalar's (docs/security.md)."""
    directives = {
        name: set(sources)
        for name, *sources in (part.split() for part in API_REFERENCE_POLICY.split(";"))
    }
    assert directives == ALLOWED_SOURCES
