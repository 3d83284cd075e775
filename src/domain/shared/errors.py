"""The root of every error the domain raises on purpose."""


class DomainError(Exception):
    """A business rule was broken; the message is safe to show to the caller.

    `field` names what the rule is about (``email``, ``username``) and becomes the key of the
    error envelope at the edge.
    """

    field: str = "request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
