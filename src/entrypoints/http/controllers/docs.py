"""The interactive API reference at /docs, over the schema at /schema/openapi.json."""

from typing import Any

from litestar import MediaType, Request, get
from litestar.openapi.plugins import ScalarRenderPlugin

_renderer = ScalarRenderPlugin()


@get("/docs", media_type=MediaType.HTML, include_in_schema=False, cache=False)
async def api_reference(request: Request[Any, Any, Any]) -> bytes:
    """Render the Scalar API reference, which loads the generated OpenAPI document."""
    return _renderer.render(request, request.app.openapi_schema.to_schema())
