"""Every error on a page's route answered with a page, never the API's JSON envelope.

The same exception types as the app's handlers (entrypoints/http/errors.py) are listed, so
none of the app's handlers is picked for a page's route over these. The status is the one
the API would answer with; unexpected errors are logged by the app's handler first, and a
lost database connection is still marked for the retry the app makes.

A wrong method on a page's path (``PUT /verify-email``) matches no route, so Litestar's
router raises it before any route's handlers apply: the app's handler for it
(`wrong_method_handler`) answers with a page on the pages' paths, and with the API's JSON
everywhere else.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from application.common.errors import (
    ApplicationError,
    ConnectionLostError,
    DependencyUnavailableError,
    TooManyRequestsError,
)
from domain.shared.errors import DomainError
from entrypoints.http.client_input import MalformedInputError, ParameterError
from entrypoints.http.errors import (
    CLIENT_DISCONNECTED_STATUS,
    EXCEPTION_HANDLERS,
    http_error_handler,
    status_of,
    unexpected_error_handler,
)
from entrypoints.http.middleware.repeat_on_lost_connection import note_repeatable
from entrypoints.http.pages.rendering import PAGE_POLICY
from entrypoints.http.pages.state import pages_of

_NOTHING_CHANGED = "Nothing was changed."
_SAYINGS: Mapping[int, tuple[str, str]] = {
    HTTP_400_BAD_REQUEST: ("This request is malformed", "Open the link from the email again."),
    HTTP_403_FORBIDDEN: ("This is not allowed", "Open the link from the email again."),
    HTTP_405_METHOD_NOT_ALLOWED: (
        "This page cannot be used that way",
        "Open the link from the email again.",
    ),
    HTTP_409_CONFLICT: ("Something changed at the same moment", "Send the form again."),
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: ("This form is too large", "Send a shorter one."),
    HTTP_422_UNPROCESSABLE_ENTITY: ("This request cannot be used", "Open the link again."),
    HTTP_429_TOO_MANY_REQUESTS: ("Too many attempts", "Wait a minute, then try again."),
    HTTP_503_SERVICE_UNAVAILABLE: ("The service is busy or down", "Try again in a minute."),
}


def _status(exc: Exception) -> int:
    if isinstance(exc, ApplicationError):
        return status_of(exc)
    if isinstance(exc, MalformedInputError):
        return HTTP_400_BAD_REQUEST
    if isinstance(exc, DomainError | ParameterError):
        return HTTP_422_UNPROCESSABLE_ENTITY
    if isinstance(exc, HTTPException):
        return exc.status_code
    return HTTP_500_INTERNAL_SERVER_ERROR


def page_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """The error as a page with the status the API would give it."""
    if isinstance(exc, ConnectionLostError):
        note_repeatable(request.scope, exc)
    status = _status(exc)
    pages = pages_of(request)
    if status >= HTTP_500_INTERNAL_SERVER_ERROR and status != HTTP_503_SERVICE_UNAVAILABLE:
        # The app's handlers log it, or note a client that left (nobody reads the answer).
        logged = (
            http_error_handler(request, exc)
            if isinstance(exc, HTTPException)
            else unexpected_error_handler(request, exc)
        )
        if logged.status_code == CLIENT_DISCONNECTED_STATUS:
            return logged  # type: ignore[return-value]
        reference = request.scope.get("state", {}).get("request_id", "-")
        return pages.message(
            HTTP_500_INTERNAL_SERVER_ERROR,
            "Something went wrong on our side",
            f"{_NOTHING_CHANGED} Try again in a minute; if it keeps happening, give support "
            "this reference.",
            reference=reference,
        )
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None  # a 405's Allow
    if isinstance(exc, TooManyRequestsError | DependencyUnavailableError):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    title, advice = _SAYINGS.get(status, ("This request cannot be served", "Open the link again."))
    return pages.message(status, title, f"{_NOTHING_CHANGED} {advice}", headers=headers)


PAGE_EXCEPTION_HANDLERS: Mapping[type[Exception], Callable[..., Response[str]]] = dict.fromkeys(
    EXCEPTION_HANDLERS, page_error_handler
)
"""For the pages' router: each type the app handles, answered with a page instead."""


def wrong_method_handler(
    page_paths: Iterable[str],
) -> Callable[[Request[Any, Any, Any], MethodNotAllowedException], Response[Any]]:
    """For the app: a 405 on one of `page_paths` (route paths) as a page, elsewhere as JSON.

    The page keeps the router's ``Allow``, and names the pages' Content-Security-Policy
    itself: no route matched, so no route's policy applies (`SecurityHeadersMiddleware`
    keeps a policy an unmatched response brings).
    """
    on_a_page = re.compile("|".join(_path_pattern(path) for path in page_paths))

    def handle(request: Request[Any, Any, Any], exc: MethodNotAllowedException) -> Response[Any]:
        if not on_a_page.fullmatch(request.scope["path"]):
            return http_error_handler(request, exc)
        page = page_error_handler(request, exc)
        page.headers["Content-Security-Policy"] = PAGE_POLICY
        return page

    return handle


def _path_pattern(path: str) -> str:
    """A route path (``/article/{slug:str}``) as a pattern: a parameter is one segment."""
    segments = path.strip("/").split("/")
    pattern = "/".join("[^/]+" if s.startswith("{") else re.escape(s) for s in segments)
    return f"/{pattern}/?"
