"""`portico serve`: its arguments; entrypoints/cli/serve.py, loaded when it runs, serves."""

from typing import Annotated

import typer


def serve(
    host: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="Interface to bind. [default: APP_HOST]"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, metavar="PORT", help="Port to listen on. [default: APP_PORT]"
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, metavar="N", help="Worker processes. [default: APP_WORKERS]"),
    ] = None,
) -> None:
    """Serve the HTTP API until SIGINT or SIGTERM, then drain and exit 0.

    Without DATABASE_URL (outside production) an embedded PostgreSQL is started first and
    stopped on exit. The database must answer before the server starts (exit 3 if not).
    """
    from entrypoints.cli.serve import serve_until_stopped

    serve_until_stopped(host=host, port=port, workers=workers)
