"""The interactive API reference at /docs, over the schema at /schema/openapi.json."""

from typing import Any

from litestar import MediaType, Request, get
from litestar.openapi.plugins import ScalarRenderPlugin

from entrypoints.http.auth import PUBLIC

OPENAPI_JSON_PATH = "/schema/openapi.json"


class ApiReferencePlugin(ScalarRenderPlugin):
    """Scalar, pointed at the one URL where the document is served.

    Litestar would look the URL up by handler name, which is ambiguous when one handler
    serves several paths; the document's path is fixed, so it is named here.
    """

    # Litestar's render plugins call this: tests/unit/test_reliances_http_stack.py
    @staticmethod
    def get_openapi_json_route(request: Request[Any, Any, Any]) -> str:  # noqa: ARG004
        """The path of the OpenAPI document."""
        return OPENAPI_JSON_PATH


_renderer = ApiReferencePlugin()


@get("/docs", media_type=MediaType.HTML, include_in_schema=False, cache=False, opt=PUBLIC)
async def api_reference(request: Request[Any, Any, Any]) -> bytes:
    """Render the Scalar API reference, which loads the generated OpenAPI document."""
    return _renderer.render(request, request.app.openapi_schema.to_schema())
