"""The pages behind every emailed link: small server-rendered HTML, no script (docs/pages.md).

- `/verify-email`, `/reset-password` and `/restore-email` (tokens.py): a GET shows a form
  carrying the link's token, and only its POST spends the token, through the same use cases
  as the API, since mail scanners fetch links.
- `/article/<slug>`, `/profile/<username>` and `/settings` (landing.py): say where the
  content is, or redirect to the web frontend that LINKS_FRONTEND_URL names.

Every page carries `PAGE_POLICY` as its Content-Security-Policy, its forms are guarded by
`FormGuard`, and every error on these routes, however raised, is answered with a page
(errors.py), a wrong method on their paths too (`PAGE_WRONG_METHOD_HANDLER`, which the app
installs). None is in the OpenAPI document: they are not API.
"""

from litestar import Router

from entrypoints.http.pages.errors import PAGE_EXCEPTION_HANDLERS, wrong_method_handler
from entrypoints.http.pages.landing import article_landing, profile_landing, settings_landing
from entrypoints.http.pages.rendering import PAGE_POLICY
from entrypoints.http.pages.tokens import FORM_PATHS, TOKEN_PAGES

PAGES = Router(
    "/",
    route_handlers=[*TOKEN_PAGES, article_landing, profile_landing, settings_landing],
    include_in_schema=False,
    exception_handlers=dict(PAGE_EXCEPTION_HANDLERS),  # type: ignore[arg-type]
)
"""Every page, mounted at the root: the paths the emails link to."""

PAGE_WRONG_METHOD_HANDLER = wrong_method_handler(route.path for route in PAGES.routes)
"""The app's handler for a 405: a page on these paths, the API's JSON on all others."""

__all__ = ["FORM_PATHS", "PAGES", "PAGE_POLICY", "PAGE_WRONG_METHOD_HANDLER"]
