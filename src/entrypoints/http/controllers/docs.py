"""The interactive API reference at /docs, over the schema at /schema/openapi.json.

The reference is Scalar's standalone bundle, vendored at `SCALAR_VERSION` in
`static/scalar/` (with its VERSION and LICENSE) and served from here with the script that
starts it: the page works on a machine with no internet, and no script from another host
runs in this origin. Each asset's URL holds a digest of its bytes, so a browser keeps it
for a year and a new bundle is a new URL.
"""

import hashlib
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from litestar import MediaType, Request, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.response import File

from entrypoints.http.auth import PUBLIC

OPENAPI_JSON_PATH = "/schema/openapi.json"
SCALAR_VERSION = "1.76.4"
ASSETS_PATH = "/docs/assets"
ASSET_CACHE = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
JAVASCRIPT = "text/javascript"

SCALAR_CONFIGURATION: Final[dict[str, Any]] = {
    "withDefaultFonts": False,
    "telemetry": False,
    "hideClientButton": True,
    "showDeveloperTools": "never",
    "agent": {"disabled": True},
}
"""Scalar's settings beside the document's URL: nothing that reaches another host.

Its default fonts come from its font host; the client button opens its hosted client with
this document's URL; the developer tools and the agent, which it turns on by itself when
the page is on localhost, talk to its services. `proxyUrl` is left unset, so "send
request" calls this origin directly, which `connect-src 'self'` holds it to anyway.
"""

POLICY_DIRECTIVES: Final = (
    "default-src 'none'",
    "script-src 'self'",
    # Scalar writes its styles into the page at run time, some of them generated (the code
    # editor's), and sets `style` attributes: no hash or nonce could name them all.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
API_REFERENCE_POLICY: Final = "; ".join(POLICY_DIRECTIVES)
"""The Content-Security-Policy of the HTML pages, which are all this reference: everything
it loads comes from this origin, and no inline script runs."""


@dataclass(frozen=True, slots=True)
class Asset:
    """A file the reference page loads, and the URL it is served at."""

    path: Path
    media_type: str
    digest: str

    @classmethod
    def of(cls, path: Path, media_type: str) -> "Asset":
        """The asset at `path`, its digest taken from its bytes."""
        return cls(path, media_type, hashlib.sha256(path.read_bytes()).hexdigest()[:16])

    @property
    def url(self) -> str:
        """Where the page asks for it; another digest is another URL."""
        return f"{ASSETS_PATH}/{self.digest}/{self.path.name}"


SCALAR_BUNDLE = Asset.of(STATIC_DIR / "scalar" / "standalone.js", JAVASCRIPT)
START_SCRIPT = Asset.of(STATIC_DIR / "api-reference" / "start.js", JAVASCRIPT)
ASSETS: Final = {asset.path.name: asset for asset in (SCALAR_BUNDLE, START_SCRIPT)}


class ApiReferencePlugin(OpenAPIRenderPlugin):
    """The Scalar page, from this origin, over the one URL where the document is served.

    A render plugin of Litestar's own, so that /schema shows the same page as /docs. There
    is no favicon and no inline script or style: the page names its two scripts and
    carries the document's URL and Scalar's settings in attributes, for
    `static/api-reference/start.js` to read.
    """

    def __init__(self, *, path: str = "/scalar") -> None:
        super().__init__(path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:  # noqa: ARG002 - a fixed page
        """The page: a mount point holding the document's URL and settings, then the scripts."""
        title = html.escape(str(openapi_schema["info"]["title"]))
        url = html.escape(OPENAPI_JSON_PATH)
        settings = html.escape(json.dumps(SCALAR_CONFIGURATION, separators=(",", ":")))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<noscript>The API reference needs JavaScript; the document it shows is
<a href="{url}">{url}</a>.</noscript>
<div id="portico-api-reference" data-document="{url}" data-settings="{settings}"></div>
<script src="{START_SCRIPT.url}"></script>
<script src="{SCALAR_BUNDLE.url}"></script>
</body>
</html>
""".encode()


_renderer = ApiReferencePlugin()


@get("/docs", media_type=MediaType.HTML, include_in_schema=False, cache=False, opt=PUBLIC)
async def api_reference(request: Request[Any, Any, Any]) -> bytes:
    """Render the Scalar API reference, which loads the generated OpenAPI document."""
    return _renderer.render(request, request.app.openapi_schema.to_schema())


@get(
    f"{ASSETS_PATH}/{{digest:str}}/{{name:str}}",
    include_in_schema=False,
    cache_control=ASSET_CACHE,
    opt=PUBLIC,
)
async def api_reference_asset(digest: str, name: str) -> File:
    """One of the reference's scripts; 404 for any other name, or a digest no longer served."""
    asset = ASSETS.get(name)
    if asset is None or asset.digest != digest:
        raise NotFoundException
    return File(
        asset.path, filename=name, media_type=asset.media_type, content_disposition_type="inline"
    )
