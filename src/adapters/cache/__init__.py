"""Decorators that serve port reads from the `Cache` port."""
