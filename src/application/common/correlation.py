"""The id of the request or job being served, visible to every layer below it.

The driving side (HTTP middleware, worker, CLI) sets it; adapters read it, for example to
stamp outbox rows. A context variable follows each asyncio task, so concurrent requests
never see each other's id.
"""

from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
