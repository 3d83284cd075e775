"""What the HTTP side gives the live dashboard: each request, and the live connections.

Each API process counts the requests it answers through the app's one observation hook
(`middleware.observe`) into its `FigureRecorder`, which sums them per second in memory and
hands them to the shared store in the background; it also reports how many sockets and
streams its connection hub holds. The dashboard adds up what every process reported.
"""

from dishka import AsyncContainer
from litestar import Litestar

from application.audit.context import current_actor
from application.dashboard.ports import Gauge
from application.dashboard.recorder import FigureRecorder
from domain.audit.entry import ActorKind
from entrypoints.http.middleware.observe import (
    RequestObservation,
    RequestObserver,
    request_observers,
)
from entrypoints.http.realtime.hub import ConnectionHub


class DashboardRequestObserver(RequestObserver):
    """Counts each answered request for the dashboard: status, latency and who sent it.

    The sender is the signed-in user the guard established for the request (the audit
    context's actor, which the middleware still sees once the request is answered); an
    anonymous request counts as a request but not as an active user. Counting only adds
    to the recorder's counters: nothing waits.
    """

    def __init__(self, recorder: FigureRecorder) -> None:
        self._recorder = recorder

    def observe(self, observation: RequestObservation) -> None:
        """Add the request to this second's counts."""
        actor = current_actor.get()
        user = actor.user_id if actor is not None and actor.kind is ActorKind.USER else None
        self._recorder.request(status=observation.status, seconds=observation.seconds, user=user)


async def start_dashboard_figures(
    app: Litestar, container: AsyncContainer, hub: ConnectionHub
) -> None:
    """Count the app's requests and report the hub's live connections, from now on."""
    recorder = await container.get(FigureRecorder)
    recorder.watch(Gauge.LIVE_CONNECTIONS, lambda: hub.live)
    request_observers(app).add(DashboardRequestObserver(recorder))
