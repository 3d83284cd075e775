"""Page cursors for the audit log: the last sequence number seen, signed so it cannot be forged.

A cursor a client edited, or made up, is refused rather than followed: following it would
only skip entries, but a refusal tells a buggy client at once.
"""

import base64
import binascii
import hmac

from application.common.errors import InvalidInputError

_SIGNATURE_BYTES = 12


def _signature(key: bytes, seq: int) -> bytes:
    return hmac.new(key, f"audit-cursor:{seq}".encode(), "sha256").digest()[:_SIGNATURE_BYTES]


def encode_cursor(key: bytes, seq: int) -> str:
    """The cursor that continues after entry `seq`."""
    raw = seq.to_bytes(8, "big") + _signature(key, seq)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(key: bytes, cursor: str) -> int:
    """The sequence number a cursor continues after; `InvalidInputError` if it was tampered with."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInputError("is not a cursor this server made", field="cursor") from None
    seq = int.from_bytes(raw[:8], "big")
    if len(raw) != 8 + _SIGNATURE_BYTES or not hmac.compare_digest(raw[8:], _signature(key, seq)):
        raise InvalidInputError("is not a cursor this server made", field="cursor")
    return seq
