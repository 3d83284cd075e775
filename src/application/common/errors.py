"""Errors the use cases raise. The HTTP layer maps each class to one status, in one table."""

from domain.shared.errors import ExplainedError


class ApplicationError(ExplainedError):
    """An expected failure of a use case.

    `field` names what the error is about (a body field, or a resource such as ``article``);
    the message is safe to show to clients. A subclass that always says the same sets
    `message` (and `field`) as class attributes instead of taking them.
    """


class NotFoundError(ApplicationError):
    """The resource does not exist, or the caller may not know that it does."""


class ConflictError(ApplicationError):
    """The change clashes with the current state, such as a duplicate unique value."""


class InvalidInputError(ApplicationError):
    """The input is well-formed but breaks a rule."""


class DependencyUnavailableError(ApplicationError):
    """A server or budget the use case needs is unavailable now; retrying later may succeed.

    `retry_after_seconds` says when retrying makes sense (a short default for an outage).
    """

    def __init__(
        self, message: str | None = None, *, field: str | None = None, retry_after_seconds: int = 5
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after_seconds = retry_after_seconds


class ConnectionLostError(DependencyUnavailableError):
    """The connection to a server the request needs died under it, before anything committed.

    Nothing the request did persists, so running the whole request again once, on a fresh
    connection, can neither lose nor repeat a change: entrypoints may do that before they
    report the outage.
    """


class OutcomeUnknownError(DependencyUnavailableError):
    """The connection died once a commit had been sent: the change may or may not persist.

    Running the request again blindly could apply it twice, so it is never repeated; the
    client reads the state back (or repeats a write that is safe to repeat) once the
    server is back.
    """


class AuthenticationRequiredError(ApplicationError):
    """The request carries no credentials, or ones that cannot be trusted."""

    field = "token"


class InvalidCredentialsError(ApplicationError):
    """The email and password do not match an account; which one is wrong is not said."""

    field = "credentials"


class PermissionDeniedError(ApplicationError):
    """The caller is known but may not do this."""

    field = "permission"


class TooManyRequestsError(ApplicationError):
    """The caller is over a rate limit; `retry_after_seconds` says when to try again."""

    field = "rate_limit"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after_seconds} seconds")
        self.retry_after_seconds = retry_after_seconds


class ConcealedDenialError(NotFoundError):
    """Reads as not found to the caller, but the thing exists and is someone else's.

    Answered exactly like `NotFoundError`, so it leaks nothing; the audit log records it as
    a denied attempt (a broken object-level authorization probe), which a plain miss is not.
    """
