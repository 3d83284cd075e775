"""What a test of a library reliance reports: the library, its version, and what changed.

tests/unit/test_reliances_*.py and tests/integration/test_reliances_*.py (those need a real
server) each exercise one undocumented or private behaviour that a Portico module depends
on, through the library itself and, where it can, through the Portico code that depends on
it. A failure names the library, the version installed, what changed and the Portico code
to review; the library's upper bound in pyproject.toml is raised only after that review
(docs/decisions/0001-dependencies.md).
"""

from importlib.metadata import version
from types import TracebackType
from typing import NoReturn, Self

import pytest

_DISPLAY_NAMES = {
    "redis": "redis-py",
    "pyjwt": "PyJWT",
    "sqlalchemy": "SQLAlchemy",
}


class Reliance:
    """One reliance of Portico on a library; every failure names the library and its version.

    Use it as a context manager around the code that exercises the behaviour: `check` and
    `fail` report a changed behaviour, and any exception escaping the block (an attribute or
    a keyword argument that is gone, say) is reported the same way.
    """

    def __init__(self, *distributions: str, where: str) -> None:
        self.libraries = ", ".join(
            f"{_DISPLAY_NAMES.get(name, name)} {version(name)}" for name in distributions
        )
        self.where = where

    def fail(self, what: str) -> NoReturn:
        """Stop the test: the library no longer behaves as Portico expects."""
        pytest.fail(
            f"{self.libraries}: {what}. Portico relies on this in {self.where}; review that "
            "code before raising the library's upper bound in pyproject.toml.",
            pytrace=False,
        )

    def check(self, condition: object, what: str) -> None:
        """Fail with `what` (the behaviour as it is now) unless `condition` holds."""
        if not condition:
            self.fail(what)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception):
            self.fail(f"{type(exc).__name__}: {exc}")
