"""Rendering a page: Jinja templates from files, one inline stylesheet allowed by its hash."""

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Response
from litestar.datastructures import Cookie

TEMPLATES = Path(__file__).resolve().parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLESHEET = _environment.get_template("pages.css").render()
"""The pages' one stylesheet, as the layout includes it inline (`{% include "pages.css" %}`)."""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()

PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "img-src 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
"""The pages' Content-Security-Policy: their own inline stylesheet (by its hash) and forms
posted to this origin; no script, image, font, frame or connection at all."""

PAGE_HEADERS = {"Cache-Control": "no-store"}
"""A page may hold a link's token in a form field: no cache keeps it."""


def render_page(
    template: str,
    *,
    status: int,
    app_name: str,
    headers: Mapping[str, str] | None = None,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    """The page `template` (a file in templates/) as a response, with the stylesheet inline.

    Values are escaped; the stylesheet is template text, included as is, so its hash in
    `PAGE_POLICY` stays true (tests/unit/test_pages.py checks it against a page).
    """
    html = _environment.get_template(template).render(
        app_name=app_name,
        **context,
    )
    return Response(
        content=html,
        status_code=status,
        media_type=MediaType.HTML,
        headers={**PAGE_HEADERS, **(headers or {})},
        cookies=cookies,
    )
