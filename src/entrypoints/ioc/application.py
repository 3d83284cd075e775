"""Providers for the use cases; each is built per request from the ports it declares."""

from dishka import Provider, Scope, provide

from application.health.check_readiness import CheckReadiness


class UseCaseProvider(Provider):
    """Every use case, in REQUEST scope."""

    scope = Scope.REQUEST
    check_readiness = provide(CheckReadiness)
