"""A handler table of a test's own in place of the application's, for `make_container`."""

from dishka import Provider, Scope, provide

from entrypoints.worker.handler_table import HandlerTable, Route


class TestHandlers(Provider):
    """Overrides the application's handler table, and provides each handler class in it."""

    __test__ = False

    def __init__(self, *routes: Route) -> None:
        super().__init__()
        self.table = HandlerTable(*routes)
        for handler in self.table.handler_types:
            self.provide(handler, scope=Scope.REQUEST)

    @provide(scope=Scope.APP, override=True)
    def handler_table(self) -> HandlerTable:
        return self.table
