"""Where the worker finds the event handlers: the modules that register on the registry."""

import importlib

from application.events.consumers import ConsumerRegistry, consumers

HANDLER_MODULES: tuple[str, ...] = ("application.notifications.handlers",)
"""Modules whose import registers handlers on `application.events.consumers.consumers`.

Add a module here when a feature adds handlers; each handler is one decorated function in
it.
"""


def registered_consumers() -> ConsumerRegistry:
    """The application's registry, with every handler module imported."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return consumers
