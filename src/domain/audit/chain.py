"""The hash chain that makes the audit log tamper-evident, and the checkpoints that anchor it.

Entry `n` stores ``SHA-256(content(n) || n as 8 bytes big-endian || hash(n-1))``, with
`GENESIS` before the first. `content` is a canonical JSON encoding of every field of the
record, so changing any field, removing an entry or inserting one breaks the link of that
entry or of the next. `seal` gives records their place and hash; `ChainWalk` checks them.

A chain alone does not stop someone who can rewrite every row from rewriting the hashes too.
A `Checkpoint` closes that: an HMAC, under a key the database never sees, over a sequence
number and the hash there. An attacker without the key cannot make a rewritten chain agree
with a checkpoint signed before the rewrite.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from domain.audit.entry import AuditEntry, AuditRecord

GENESIS = bytes(32)
HASH_BYTES = 32


def canonical_content(record: AuditRecord) -> bytes:
    """The record's fields as compact JSON in a fixed order: what the hash covers."""
    actor = record.actor
    fields = [
        record.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        actor.kind.value,
        actor.user_id,
        actor.username,
        actor.process,
        record.action,
        record.target_type,
        record.target_id,
        record.outcome.value,
        record.reason,
        [[change.name, change.before, change.after] for change in record.changes],
        record.request_id,
        record.client_ip,
        record.user_agent,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def link(content: bytes, seq: int, previous: bytes) -> bytes:
    """The hash of entry `seq` with this content, after an entry whose hash is `previous`."""
    return hashlib.sha256(content + seq.to_bytes(8, "big", signed=True) + previous).digest()


def seal(records: Iterable[AuditRecord], *, after_seq: int, after_hash: bytes) -> list[AuditEntry]:
    """Chain `records`, in the order given, after the entry `after_seq` with `after_hash`."""
    sealed: list[AuditEntry] = []
    seq, previous = after_seq, after_hash
    for record in records:
        seq += 1
        entry_hash = link(canonical_content(record), seq, previous)
        sealed.append(AuditEntry(seq=seq, record=record, previous_hash=previous, hash=entry_hash))
        previous = entry_hash
    return sealed


class BreakKind(StrEnum):
    """How the chain was broken at an entry."""

    CHANGED = "changed"
    """The entry's content no longer matches its hash."""
    RELINKED = "relinked"
    """The entry does not follow the one before it: that one was rewritten with a new
    hash, or this one was put in out of place."""
    MISSING = "missing"
    """Entries before this one were deleted: its sequence number skips."""
    CHECKPOINT = "checkpoint"
    """A signed checkpoint disagrees with the chain, or its signature is wrong."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain does not hold, and why."""

    seq: int
    kind: BreakKind
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A signed statement that entry `seq` had hash `hash` when it was signed."""

    seq: int
    hash: bytes
    signed_at: datetime
    signature: str


def _checkpoint_message(seq: int, entry_hash: bytes, signed_at: datetime) -> bytes:
    stamp = signed_at.astimezone(UTC).isoformat(timespec="microseconds")
    return f"portico-audit-checkpoint:{seq}:{entry_hash.hex()}:{stamp}".encode()


def sign_checkpoint(key: bytes, *, seq: int, entry_hash: bytes, signed_at: datetime) -> Checkpoint:
    """A checkpoint for entry `seq`, signed with `key`."""
    signature = hmac.new(key, _checkpoint_message(seq, entry_hash, signed_at), "sha256")
    return Checkpoint(
        seq=seq, hash=entry_hash, signed_at=signed_at, signature=signature.hexdigest()
    )


def checkpoint_is_authentic(key: bytes, checkpoint: Checkpoint) -> bool:
    """Whether `key` signed this checkpoint as it stands."""
    expected = sign_checkpoint(
        key, seq=checkpoint.seq, entry_hash=checkpoint.hash, signed_at=checkpoint.signed_at
    )
    return hmac.compare_digest(expected.signature, checkpoint.signature)


class ChainWalk:
    """Checks entries in ascending order, a batch at a time, from a known starting point.

    Start after entry `start_seq` whose hash was `start_hash` (0 and `GENESIS` for a whole
    chain, or a retention checkpoint once older entries are archived). Feed it every entry
    with `check`; it stops at the first break and keeps it in `broken`. `hashes` keeps the
    hash at the sequence numbers it was asked to remember, for checking checkpoints.
    """

    def __init__(
        self,
        *,
        start_seq: int = 0,
        start_hash: bytes = GENESIS,
        remember: Iterable[int] = (),
    ) -> None:
        self.last_seq = start_seq
        self.last_hash = start_hash
        self.checked = 0
        self.broken: ChainBreak | None = None
        self._remember = frozenset(remember)
        self.hashes: dict[int, bytes] = {}

    def check(self, entries: Iterable[AuditEntry]) -> bool:
        """Check the next entries; False once the chain is broken."""
        for entry in entries:
            if self.broken is not None:
                break
            self.broken = self._break_at(entry)
            if self.broken is None:
                self.last_seq, self.last_hash = entry.seq, entry.hash
                self.checked += 1
                if entry.seq in self._remember:
                    self.hashes[entry.seq] = entry.hash
        return self.broken is None

    def _break_at(self, entry: AuditEntry) -> ChainBreak | None:
        if entry.seq != self.last_seq + 1:
            return ChainBreak(
                entry.seq,
                BreakKind.MISSING,
                f"entries {self.last_seq + 1} to {entry.seq - 1} are missing",
            )
        if entry.previous_hash != self.last_hash:
            return ChainBreak(
                entry.seq,
                BreakKind.RELINKED,
                f"it does not follow entry {self.last_seq}: that entry was rewritten, "
                "or this one was put in out of place",
            )
        if link(canonical_content(entry.record), entry.seq, entry.previous_hash) != entry.hash:
            return ChainBreak(entry.seq, BreakKind.CHANGED, "its content does not match its hash")
        return None
