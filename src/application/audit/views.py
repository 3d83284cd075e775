"""Entries as the edges show them: one JSON-ready shape for the API, the CLI and archives."""

from typing import Any

from domain.audit.entry import AuditEntry


def entry_document(entry: AuditEntry, *, with_chain: bool = True) -> dict[str, Any]:
    """The entry as plain data; `with_chain` adds the hashes that link it."""
    record = entry.record
    actor = record.actor
    document: dict[str, Any] = {
        "seq": entry.seq,
        "occurredAt": record.occurred_at.isoformat(timespec="microseconds"),
        "actor": {
            "kind": actor.kind.value,
            "userId": actor.user_id,
            "username": actor.username,
            "process": actor.process,
        },
        "action": record.action,
        "target": {"type": record.target_type, "id": record.target_id},
        "outcome": record.outcome.value,
        "reason": record.reason,
        "changes": [
            {"field": change.name, "before": change.before, "after": change.after}
            for change in record.changes
        ],
        "requestId": record.request_id,
        "clientIp": record.client_ip,
        "userAgent": record.user_agent,
    }
    if with_chain:
        document["previousHash"] = entry.previous_hash.hex()
        document["hash"] = entry.hash.hex()
    return document
