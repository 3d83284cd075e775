"""Opaque tokens: fingerprints, and the successors refresh tokens rotate to."""

import re

from adapters.security.opaque_tokens import HmacOpaqueTokens

KEY = "k" * 48


def test_a_successor_is_fixed_by_the_token_and_the_key() -> None:
    tokens = HmacOpaqueTokens(key=KEY)
    token = tokens.new_token()
    successor = tokens.successor(token)
    assert successor == tokens.successor(token) == HmacOpaqueTokens(key=KEY).successor(token)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", successor), "256 bits, URL-safe, unpadded"
    assert successor not in {token, tokens.fingerprint(token)}
    assert tokens.successor(successor) != successor
    assert tokens.successor(tokens.new_token()) != successor
    assert HmacOpaqueTokens(key="x" * 48).successor(token) != successor, "keyed"


def test_fingerprints_are_keyed_hex() -> None:
    tokens = HmacOpaqueTokens(key=KEY)
    fingerprint = tokens.fingerprint("a-token")
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert HmacOpaqueTokens(key="x" * 48).fingerprint("a-token") != fingerprint
