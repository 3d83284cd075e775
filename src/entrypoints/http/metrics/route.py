"""`GET /metrics` on the API's port, behind a bearer token (METRICS_MODE=token)."""

import hmac

from dishka.integrations.litestar import FromDishka, inject
from litestar import Request, Response, get

from adapters.prometheus.exposition import CONTENT_TYPE
from application.common.errors import AuthenticationRequiredError
from entrypoints.config.settings import Settings
from entrypoints.http.auth import OWN_CREDENTIALS
from entrypoints.http.metrics.scrape import MetricsScrape

METRICS_PATH = "/metrics"
TOKEN_REFUSED = "is missing or wrong"  # noqa: S105 - a message, not a secret


def bearer_token_matches(header: str | None, token: str | None) -> bool:
    """Whether `header` is `Bearer <token>`, compared in constant time."""
    if header is None or token is None:
        return False
    scheme, _, presented = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@get(METRICS_PATH, opt=OWN_CREDENTIALS, include_in_schema=False, cache=False)
@inject
async def metrics_endpoint(
    request: Request,  # type: ignore[type-arg]
    scrape: FromDishka[MetricsScrape],
    settings: FromDishka[Settings],
) -> Response[bytes]:
    """Every metric in Prometheus' text format; 401 without the bearer token."""
    if not bearer_token_matches(request.headers.get("authorization"), settings.metrics.token):
        raise AuthenticationRequiredError(TOKEN_REFUSED)
    return Response(await scrape.render(), media_type=CONTENT_TYPE)
