"""Typed settings, read from the environment and an optional `.env` file."""

from entrypoints.config.loader import ConfigurationError, load_settings
from entrypoints.config.settings import Settings

__all__ = ["ConfigurationError", "Settings", "load_settings"]
