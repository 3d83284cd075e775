"""`portico files`: its failures are one line with what to do, and sizes read as people read.

The error cases run in-process like tests/unit/test_cli_errors.py, with the container
failing the way the real one would; tests/integration/test_cli_files.py runs the
executable on PostgreSQL and a storage directory.
"""

import pytest
from sqlalchemy.exc import ProgrammingError

from application.common.errors import DependencyUnavailableError
from entrypoints.cli.files import human_size
from tests.unit.test_cli_errors import (
    ERROR_LINE,
    REACHABLE_DB,
    Case,
    database_unreachable,
    invoke,
    nothing_configured,  # noqa: F401 - the autouse fixture those cases run under
    orm_error,
    use_case_raises,
)

CASES = {
    "stats: schema missing": Case(
        ["files", "stats"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(orm_error(ProgrammingError, 'relation "files" does not exist')),
    ),
    "stats: database unreachable": Case(
        ["files", "stats", "--json"], 3, env=REACHABLE_DB, setup=database_unreachable
    ),
    "gc: storage refuses": Case(
        ["files", "gc"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(PermissionError(13, "Permission denied", "/srv/uploads/files")),
    ),
    "gc: a service down": Case(
        ["files", "gc", "--dry-run"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(DependencyUnavailableError("is unavailable", field="storage")),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_error_is_one_line_saying_what_is_wrong_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    assert case.setup is not None
    case.setup(monkeypatch)
    result = invoke(*case.args, env=case.env)
    assert result.exit_code == case.code, result.output
    assert ERROR_LINE.fullmatch(result.stderr.removesuffix("\n")), result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_a_storage_failure_names_the_settings_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    use_case_raises(PermissionError(13, "Permission denied", "/srv/uploads/files"))(monkeypatch)
    result = invoke("files", "gc", env=REACHABLE_DB)
    assert result.stderr == (
        "portico: file storage failed: [Errno 13] Permission denied: '/srv/uploads/files'; "
        "check STORAGE_BACKEND and its settings (STORAGE_LOCAL_DIR must be writable by this "
        "user), then run the command again\n"
    )


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1_048_576, "5.0 MiB"),
        (3 * 1024**3 + 1, "3.0 GiB"),
        (2 * 1024**4, "2.0 TiB"),
        (2048 * 1024**5, "2048.0 PiB"),
    ],
)
def test_sizes_are_shown_in_binary_units(size: int, shown: str) -> None:
    assert human_size(size) == shown
