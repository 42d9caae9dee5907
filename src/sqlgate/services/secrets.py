"""Connection passwords, encrypted at rest with the server's secret key.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived from the secret key by
HKDF. Rotation: set the new ``SQLGATE_SECRET_KEY`` and list the old one in
``SQLGATE_PREVIOUS_SECRET_KEYS``; every key still decrypts, new writes use the new key, and
``sqlgate secrets rotate`` re-encrypts what is stored so the old key can be dropped.

``cryptography`` (about 6 MB resident) is imported, and the keys derived, by the first secret
encrypted or decrypted, not when the server starts: a server whose connections have no password
never loads it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from sqlgate.errors import ConnectionFailed

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

_INFO = b"sqlgate connection secrets v1"


def _fernet(secret: str) -> Fernet:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _invalid_token() -> type[Exception]:
    from cryptography.fernet import InvalidToken

    return InvalidToken


class SecretBox:
    """Encrypts with the current key; decrypts with the current or any previous key."""

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self._keys = (current, *previous)

    @cached_property
    def _current(self) -> Fernet:
        return _fernet(self._keys[0])

    @cached_property
    def _all(self) -> MultiFernet:
        from cryptography.fernet import MultiFernet

        return MultiFernet([self._current, *(_fernet(k) for k in self._keys[1:])])

    def encrypt(self, plaintext: str) -> str:
        return self._current.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        box = self._all
        try:
            return box.decrypt(token.encode("ascii")).decode()
        except (_invalid_token(), UnicodeError):
            raise ConnectionFailed(
                "The stored password cannot be decrypted with the configured secret keys; "
                "set SQLGATE_PREVIOUS_SECRET_KEYS to the key it was written with, or set the "
                "password again"
            ) from None

    def is_current(self, token: str) -> bool:
        current = self._current
        try:
            current.decrypt(token.encode("ascii"))
        except _invalid_token():
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same secret, encrypted with the current key."""
        box = self._all
        try:
            return box.rotate(token.encode("ascii")).decode("ascii")
        except _invalid_token():
            raise ConnectionFailed("A stored password cannot be decrypted with any key") from None
