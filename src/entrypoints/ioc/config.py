"""Settings enter the container as context, so every provider reads the same values."""

from dishka import Provider, Scope, from_context

from entrypoints.config.settings import Settings


class ConfigProvider(Provider):
    """Exposes the validated settings in APP scope."""

    settings = from_context(provides=Settings, scope=Scope.APP)
