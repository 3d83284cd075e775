"""Providers for the event handlers: the table, and each handler in it, per event."""

from dishka import Provider, Scope, provide, provide_all

from entrypoints.worker.handler_table import HandlerTable
from entrypoints.worker.handlers import EVENT_HANDLERS


class EventHandlerProvider(Provider):
    """The handler table, and every handler class in it, built per event like a use case.

    The dispatcher resolves a handler in the event's request scope, so the handler's use
    cases share the unit of work in which `HandleEvent` records that it ran.
    """

    scope = Scope.REQUEST
    handlers = provide_all(*EVENT_HANDLERS.handler_types)

    @provide(scope=Scope.APP)
    def table(self) -> HandlerTable:
        """The application's table (`entrypoints.worker.handlers`)."""
        return EVENT_HANDLERS
