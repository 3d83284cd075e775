"""The interactive API reference at /docs, over the schema at /schema/openapi.json."""

import base64
import hashlib
import re
from typing import Any, cast

from litestar import MediaType, Request, get
from litestar.openapi.plugins import ScalarRenderPlugin

from entrypoints.http.auth import PUBLIC

OPENAPI_JSON_PATH = "/schema/openapi.json"
SCALAR_VERSION = "1.76.4"
SCALAR_FONTS = "https://fonts.scalar.com"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


class ApiReferencePlugin(ScalarRenderPlugin):
    """Scalar, at a pinned version, pointed at the one URL where the document is served.

    Litestar would look the URL up by handler name, which is ambiguous when one handler
    serves several paths; the document's path is fixed, so it is named here. The version is
    pinned so the page's Content-Security-Policy, checked against it, stays true; there is
    no favicon, which would be one more host to allow.
    """

    def __init__(self, *, path: str = "/scalar") -> None:
        super().__init__(version=SCALAR_VERSION, path=path, favicon="")

    def content_security_policy(self) -> str:
        """What the page loads and nothing else: CDN script and style, fonts, the document.

        Styles may be inline: Scalar writes its styles into the page and into `style`
        attributes at run time. `connect-src 'self'` also keeps Scalar's "send request"
        away from its proxy service, which would see the caller's token.
        """
        return "; ".join(
            [
                "default-src 'none'",
                " ".join(["script-src", self.js_url, *self._inline_script_hashes()]),
                f"style-src 'unsafe-inline' {self.css_url}",
                "img-src 'self' data:",
                f"font-src {SCALAR_FONTS}",
                "connect-src 'self'",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            ]
        )

    def _inline_script_hashes(self) -> list[str]:
        """The hashes of the page's inline scripts, such as the empty one holding the URL.

        Taken from a page rendered here, without a request: what the scripts hold depends on
        neither the request nor the document (`get_openapi_json_route` is fixed).
        """
        page = self.render(cast("Request[Any, Any, Any]", None), {"info": {"title": ""}})
        return [
            f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
            for body in _INLINE_SCRIPT.findall(page)
        ]

    # Litestar's render plugins call this: tests/unit/test_reliances_http_stack.py
    @staticmethod
    def get_openapi_json_route(request: Request[Any, Any, Any]) -> str:  # noqa: ARG004 - fixed path
        """The path of the OpenAPI document."""
        return OPENAPI_JSON_PATH


_renderer = ApiReferencePlugin()
API_REFERENCE_POLICY = _renderer.content_security_policy()
"""The Content-Security-Policy of the HTML pages, which are all this reference."""


@get("/docs", media_type=MediaType.HTML, include_in_schema=False, cache=False, opt=PUBLIC)
async def api_reference(request: Request[Any, Any, Any]) -> bytes:
    """Render the Scalar API reference, which loads the generated OpenAPI document."""
    return _renderer.render(request, request.app.openapi_schema.to_schema())
