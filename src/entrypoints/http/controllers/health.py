"""Liveness and readiness, for load balancers and orchestrators."""

from typing import Literal

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from application.health.check_readiness import CheckReadiness, CheckReadinessCommand
from entrypoints.config.settings import Settings
from entrypoints.http.auth import PUBLIC
from entrypoints.http.openapi import described_by, error_responses


class Liveness(msgspec.Struct, frozen=True, kw_only=True):
    """The process is up and serving."""

    status: Literal["ok"] = "ok"


class DependencyReport(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One dependency's answer to its probe."""

    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = None


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    """Every dependency's status; `failing` names those that are down."""

    status: Literal["ready", "unavailable"]
    dependencies: dict[str, DependencyReport]
    failing: list[str]


class HealthController(Controller):
    """Probes for orchestration; public, cheap, and never cached."""

    path = "/health"
    tags = ["health"]  # noqa: RUF012 - Litestar reads this class attribute
    opt = PUBLIC

    @get("/live", summary="Liveness", cache=False, responses=error_responses())
    async def live(self) -> Liveness:
        """Answer 200 whenever the process can serve a request; checks nothing else."""
        return Liveness()

    @get(
        "/ready",
        summary="Readiness",
        description=described_by(CheckReadiness),
        response_description="Every configured dependency answered its probe in time.",
        cache=False,
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=Readiness, description="A dependency is down; `failing` names it."
            ),
        },
    )
    @inject
    async def ready(
        self,
        check_readiness: FromDishka[CheckReadiness],
        settings: FromDishka[Settings],
    ) -> Response[Readiness]:
        command = CheckReadinessCommand(timeout_seconds=settings.app.readiness_timeout_seconds)
        report = await check_readiness(command)
        body = Readiness(
            status="ready" if report.ready else "unavailable",
            dependencies={
                name: DependencyReport(
                    status=status.state.value, latency_ms=status.latency_ms, error=status.error
                )
                for name, status in report.dependencies.items()
            },
            failing=report.failing,
        )
        status_code = HTTP_200_OK if report.ready else HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status_code=status_code)
