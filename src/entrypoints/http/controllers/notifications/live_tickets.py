"""Tickets that open the live-notification socket, for clients that cannot send headers."""

from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, post
from litestar.status_codes import HTTP_201_CREATED

from application.common.errors import DependencyUnavailableError
from entrypoints.http.auth import presented_token
from entrypoints.http.openapi import error_responses
from entrypoints.http.realtime.tickets import (
    LiveTicketResponse,
    LiveTickets,
    TicketUnavailableError,
)


class LiveTicketsController(Controller):
    """A single-use ticket standing for the caller's access token at ``/ws``."""

    path = "/api/notifications/live-ticket"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        status_code=HTTP_201_CREATED,
        summary="A ticket to open /ws with",
        responses=error_responses(unavailable="The cache that keeps tickets is unreachable."),
    )
    @inject
    async def live_ticket(
        self, request: Request[Any, Any, Any], tickets: FromDishka[LiveTickets]
    ) -> LiveTicketResponse:
        """Single use, within `expiresIn` seconds: ``/ws?ticket=...`` is authenticated at once."""
        try:
            ticket = await tickets.issue(presented_token(request))
        except TicketUnavailableError:
            raise DependencyUnavailableError(
                "live tickets are unavailable; retry later", field="ticket"
            ) from None
        return LiveTicketResponse(ticket=ticket, expires_in=tickets.ttl_seconds)
