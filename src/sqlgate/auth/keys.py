"""API keys: random, recognisable by their prefix, shown once, stored as SHA-256 hashes.

A key has 256 bits of randomness, so a fast hash is the right tool (as for GitHub tokens):
there is nothing to brute-force, and lookups by hash stay an index hit on every request.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sqg_"
_DISPLAY_CHARS = 8


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """What lists show instead of the secret: enough to tell keys apart."""
    return key[: len(KEY_PREFIX) + _DISPLAY_CHARS]


def looks_like_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and 20 <= len(key) <= 200 and key.isascii()
