"""Starts and stops a real PostgreSQL 16 whose data lives in a local directory."""

import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started."""


class EmbeddedPostgres:
    """A PostgreSQL server owned by this process, reachable over a unix socket only.

    pgserver counts the processes that use one data directory and stops the server when
    the last of them lets go, so two `portico` commands can share it. `stop` is idempotent,
    and pgserver also stops the server at interpreter exit as a safety net.
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
            self._data_dir.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from pgserver import postgres_server  # noqa: PLC0415 - importing it probes the runtime dir

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
