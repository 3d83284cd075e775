"""Work that waits for a transaction: the callbacks a unit of work runs after its commit."""

import logging
from collections.abc import Awaitable, Callable

_log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


async def run_after_commit(callbacks: list[AfterCommit]) -> None:
    """Run and clear `callbacks` in order; a failure is logged and the rest still run.

    The transaction has committed by now, so raising would report a failure for work that
    is in fact done.
    """
    pending = list(callbacks)
    callbacks.clear()
    for callback in pending:
        try:
            await callback()
        except Exception:  # noqa: BLE001 - logged with its traceback; the commit stands
            _log.exception(
                "work after a commit failed: %s", getattr(callback, "__qualname__", callback)
            )
