"""Who is acting and from where, as the driving side establishes it for the audit log.

The HTTP guard sets the signed-in user (or an anonymous caller) and the client's address
and user agent; the CLI sets ``cli`` with its command; the worker sets ``worker`` with its
process. Context variables follow each asyncio task, so concurrent requests never see each
other's actor. With nothing set, the actor is this process acting on its own (``system``).
"""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from domain.audit.entry import ActorKind, AuditActor, bounded_text


@dataclass(frozen=True, slots=True)
class ClientContext:
    """Where a request came from: the client's address and the user agent it sent."""

    ip: str | None
    user_agent: str | None


current_actor: ContextVar[AuditActor | None] = ContextVar("current_audit_actor", default=None)
current_client: ContextVar[ClientContext | None] = ContextVar("current_audit_client", default=None)


def this_process() -> str:
    """``host:pid``, naming the process that acts when no person does."""
    return f"{socket.gethostname()}:{os.getpid()}"


def actor_now() -> AuditActor:
    """The actor set for this task, or this process as ``system``."""
    return current_actor.get() or AuditActor.process_of(ActorKind.SYSTEM, this_process())


def client_now() -> ClientContext:
    """The client set for this task; unknown outside a request."""
    client = current_client.get()
    if client is None:
        return ClientContext(None, None)
    return ClientContext(bounded_text(client.ip), bounded_text(client.user_agent))


@contextmanager
def acting_as(actor: AuditActor) -> Iterator[None]:
    """Attribute what runs inside the block to `actor`."""
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)
