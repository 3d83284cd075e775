"""Errors, context and helpers shared by every use case."""
