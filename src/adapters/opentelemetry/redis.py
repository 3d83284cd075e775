"""Spans for Redis commands: redis-py's asyncio client with a span per command or pipeline.

Like SQL statements, a command gets a CLIENT span only inside a span in progress, so the
loops that poll Redis on their own do not start a trace per poll. Spans name the command
(``GET``, ``EVALSHA``, or ``PIPELINE`` with the commands it sent) and never its
arguments: keys hold user ids, addresses and tokens.
"""

import contextlib
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry.trace import SpanKind, get_current_span
from opentelemetry.util.types import AttributeValue
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from adapters.opentelemetry.switch import TRACING

_UNTRACED: AbstractContextManager[object] = contextlib.nullcontext()


class TracedRedis(Redis):
    """The asyncio client, with a span around every command and every pipeline it runs."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Run one command inside its span."""
        with _command_span(self, _name(args[0]) if args else "REDIS"):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(
        self,
        transaction: bool = True,  # noqa: FBT001, FBT002 - redis-py's signature
        shard_hint: str | None = None,
    ) -> Pipeline:
        """A pipeline whose `execute` runs inside one span naming every queued command."""
        return TracedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )


class TracedPipeline(Pipeline):
    """A pipeline (or MULTI transaction) that sends its commands inside one span."""

    async def execute(
        self,
        raise_on_error: bool = True,  # noqa: FBT001, FBT002 - redis-py's signature
    ) -> list[Any]:
        """Send the queued commands inside a span that lists their names."""
        commands = [_name(args[0]) for args, _ in self.command_stack if args]
        operation = "MULTI" if self.is_transaction or self.explicit_transaction else "PIPELINE"
        with _command_span(self, operation, batch=commands):
            return await super().execute(raise_on_error)


def _name(command: object) -> str:
    return command.decode(errors="replace") if isinstance(command, bytes) else str(command)


def _command_span(
    client: Redis, operation: str, *, batch: list[str] | None = None
) -> AbstractContextManager[object]:
    tracer = TRACING.tracer
    if tracer is None or not get_current_span().is_recording():
        return _UNTRACED
    options = client.connection_pool.connection_kwargs
    attributes: dict[str, AttributeValue] = {
        "db.system.name": "redis",
        "db.operation.name": operation,
        "db.namespace": str(options.get("db", 0)),
    }
    address = options.get("host") or options.get("path")
    if address:
        attributes["server.address"] = str(address)
    if options.get("port"):
        attributes["server.port"] = int(options["port"])
    if batch is not None:
        attributes["db.operation.batch.size"] = len(batch)
        attributes["db.query.text"] = " ".join(batch)
    return tracer.start_as_current_span(operation, kind=SpanKind.CLIENT, attributes=attributes)
