"""The root of every error the domain raises on purpose, and what it shares with the core's."""


class ExplainedError(Exception):
    """An expected error that explains itself: a message safe to show, and what it is about.

    `field` names what the error is about and becomes the key of the error envelope at the
    edge. Both `field` and `message` are class attributes: a subclass that always says the
    same sets them as its defaults, and arguments override them.
    """

    field: str = "request"
    message: str
    """What went wrong; a subclass that always says the same sets it as its default."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        if message is not None:
            self.message = message
        elif not hasattr(self, "message"):
            raise TypeError(f"{type(self).__name__} has no default message; pass one")
        super().__init__(self.message)
        if field is not None:
            self.field = field


class DomainError(ExplainedError):
    """A business rule was broken; the message is safe to show to the caller.

    `field` names what the rule is about (``email``, ``username``).
    """
