"""The settings, one frozen section per concern, grouped into modules by what they configure.

Each field names its environment variable in its metadata, so this package is the single
source of the configuration reference (``portico config show`` and docs/configuration.md).
The reference lists the sections in the order of the fields of `Settings` (root.py), whichever
module declares them. Sections hold only what the code uses today and grow with the features
that need them. Parsing beyond types lives beside the package (loader.py, cors.py).
"""

from entrypoints.config.settings.messaging import PushSettings
from entrypoints.config.settings.process import WebSocketSettings
from entrypoints.config.settings.root import Settings
from entrypoints.config.settings.security import AuditSettings, AuthSettings, RateLimitSettings

__all__ = [
    "AuditSettings",
    "AuthSettings",
    "PushSettings",
    "RateLimitSettings",
    "Settings",
    "WebSocketSettings",
]
