"""The root of every error the domain raises on purpose."""


class DomainError(Exception):
    """A business rule was broken; the message is safe to show to the caller."""
