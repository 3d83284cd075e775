"""The task queue port: background jobs, run after the request that asked for them."""

from collections.abc import Mapping
from typing import Protocol


class TaskQueue(Protocol):
    """Runs named jobs in the background, after the request that asked for them.

    Enqueue only after the transaction that makes the job meaningful has committed, so a
    rolled-back change never sends an email.
    """

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        """Schedule `task` with `payload`; returns once the queue has accepted it."""
        ...
