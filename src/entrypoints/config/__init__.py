"""Typed settings, read from the environment and an optional `.env` file."""

from entrypoints.config.errors import ConfigurationError
from entrypoints.config.loader import load_settings
from entrypoints.config.settings import Settings

__all__ = ["ConfigurationError", "Settings", "load_settings"]
