"""Which failures of an event's handler mean "a dependency is down, wait" and which are its own.

Adapters translate the driver failures that mean an outage (tests/integration/
test_connection_loss.py proves it on a real server); what is left untranslated is the
event's own failure.
"""

import psycopg.errors
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from application.common.errors import (
    ConnectionLostError,
    DependencyUnavailableError,
    OutcomeUnknownError,
)
from entrypoints.worker.dispatch import is_outage


def _wrapped(kind: type[Exception], cause: Exception) -> Exception:
    return kind("SELECT ...", {}, cause)


@pytest.mark.parametrize(
    "failure",
    [
        DependencyUnavailableError("is unavailable", field="database"),
        ConnectionLostError("the connection was lost", field="database"),
        OutcomeUnknownError("the connection was lost after a commit", field="database"),
        ConnectionRefusedError("the server is down"),
        DependencyUnavailableError("the SMTP relay does not answer"),
    ],
    ids=type,
)
def test_an_unreachable_dependency_is_an_outage(failure: Exception) -> None:
    assert is_outage(failure)


@pytest.mark.parametrize(
    "failure",
    [
        _wrapped(IntegrityError, psycopg.errors.ForeignKeyViolation("fk_follows_follower")),
        _wrapped(ProgrammingError, psycopg.errors.UndefinedTable("relation does not exist")),
        _wrapped(OperationalError, psycopg.errors.QueryCanceled("statement timeout")),
        ValueError("negative amounts are poison"),
    ],
    ids=type,
)
def test_the_events_own_failure_is_not_an_outage(failure: Exception) -> None:
    assert not is_outage(failure)
