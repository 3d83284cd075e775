"""Security headers on every HTTP response, each set computed once when the app is built.

- `X-Content-Type-Options: nosniff`: a browser never runs a JSON body as script or page.
- `Referrer-Policy: no-referrer`: nothing here needs to know where a visitor came from;
  a host a link on a page leads to learns nothing, and the pages behind emailed links,
  whose address may hold a link's token, never hand it on.
- Framing is denied twice: `X-Frame-Options: DENY` for old browsers, CSP `frame-ancestors`.
- `Content-Security-Policy`: `default-src 'none'` on everything but HTML pages, so a
  response opened as a document can load and run nothing; HTML pages get the policy they
  were written for: a route's own `opt["content_security_policy"]` (the pages behind
  emailed links), else `page_policy` (the API reference, whose scripts this origin
  serves: controllers/docs.py).
- `Strict-Transport-Security` when the service is reached over https
  (`APP_PUBLIC_URL`), for a year. Neither `includeSubDomains` nor `preload`: both bind
  other hosts of the domain, which only the operator can decide, at the proxy.
- `Cache-Control: no-store` on the responses of the routes that answer with a token.
"""

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.routes.base import BaseRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
STRICT_TRANSPORT = "max-age=31536000"
HTML_MEDIA_TYPE = "text/html"

Header = tuple[bytes, bytes]
_POLICY = b"content-security-policy"


class SecurityHeadersMiddleware:
    """Appends the security headers to every HTTP response; WebSockets pass untouched.

    Which set a response gets depends on its route, looked up by identity in a table built
    here from the app's routes:
    - a route naming its own policy in ``opt["content_security_policy"]`` gets it;
    - any other route whose media type is HTML gets `page_policy` as its CSP;
    - a route whose declared answer is or wraps one of `token_bodies` gets
      `Cache-Control: no-store`, so no browser or proxy cache keeps the token. Deriving it
      from the return type means a new route answering with a token cannot forget it;
    - anything else, unmatched paths included, gets the API set; but a response that
      matched no route and brings its own policy keeps it (a page answering a wrong method
      on its path: pages/errors.py), with the rest of the set.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Iterable[BaseRoute],
        page_policy: str,
        token_bodies: tuple[type, ...],
        strict_transport: bool,
    ) -> None:
        self._app = app
        common: list[Header] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if strict_transport:
            common.append((b"strict-transport-security", STRICT_TRANSPORT.encode()))
        self._api_headers = (*common, (b"content-security-policy", API_POLICY.encode()))
        self._common_headers = tuple(common)
        page_headers = (*common, (b"content-security-policy", page_policy.encode()))
        token_headers = (*self._api_headers, (b"cache-control", b"no-store"))
        self._by_route: dict[int, tuple[Header, ...]] = {}
        for route in routes:
            if not isinstance(route, HTTPRoute):
                continue
            for handler in route.route_handlers:
                media_type = handler.media_type
                own_policy = handler.opt.get("content_security_policy")
                if isinstance(own_policy, str):
                    policy_header = (b"content-security-policy", own_policy.encode())
                    self._by_route[id(handler)] = (*common, policy_header)
                elif getattr(media_type, "value", media_type).startswith(HTML_MEDIA_TYPE):
                    self._by_route[id(handler)] = page_headers
                elif _answers_with(
                    handler.parsed_fn_signature.return_type.annotation, token_bodies
                ):
                    self._by_route[id(handler)] = token_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; its response starts with the headers of its route appended."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Litestar sets the matched handler in the shared scope while routing:
                # tests/unit/test_security_headers.py
                handler: object | None = scope.get("route_handler")
                headers = message.get("headers", ())
                added = self._by_route.get(id(handler), self._api_headers)
                if handler is None and any(k.lower() == _POLICY for k, _ in headers):
                    added = self._common_headers
                message["headers"] = [*headers, *added]
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _answers_with(annotation: object, bodies: tuple[type, ...]) -> bool:
    """Whether a return annotation is one of `bodies` or a generic over one (`Response[T]`)."""
    if annotation in bodies:
        return True
    return any(_answers_with(arg, bodies) for arg in getattr(annotation, "__args__", ()))
