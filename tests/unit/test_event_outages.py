"""Which failures of an event's handler mean "a dependency is down, wait" and which are its own."""

import psycopg.errors
import pytest
import redis.exceptions
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from application.common.errors import DependencyUnavailableError
from entrypoints.worker.dispatch import is_outage


def _wrapped(kind: type[Exception], cause: Exception) -> Exception:
    return kind("SELECT ...", {}, cause)


@pytest.mark.parametrize(
    "failure",
    [
        _wrapped(OperationalError, psycopg.OperationalError("connection refused")),
        _wrapped(OperationalError, psycopg.errors.AdminShutdown("terminating connection")),
        PoolTimeoutError("QueuePool limit reached"),
        ConnectionRefusedError("the server is down"),
        redis.exceptions.ConnectionError("Error 111 connecting to redis:6379"),
        redis.exceptions.TimeoutError("Timeout reading from redis:6379"),
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
