"""What a bad setting raises, and how a library's error is told in one line."""


class ConfigurationError(Exception):
    """A setting is missing or invalid. `variable` names it; the message is one line."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def first_line(exc: BaseException) -> str:
    """The first line of what `exc` says, or its type's name when it says nothing."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
