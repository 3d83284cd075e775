"""The composition root: dishka providers that choose one adapter per port."""

from entrypoints.ioc.container import make_container

__all__ = ["make_container"]
