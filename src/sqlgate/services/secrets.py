"""Connection passwords, encrypted at rest with the server's secret key.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived from the secret key by
HKDF. Rotation: set the new ``SQLGATE_SECRET_KEY`` and list the old one in
``SQLGATE_PREVIOUS_SECRET_KEYS``; every key still decrypts, new writes use the new key, and
``sqlgate secrets rotate`` re-encrypts what is stored so the old key can be dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sqlgate.errors import ConnectionFailed

_INFO = b"sqlgate connection secrets v1"


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


class SecretBox:
    """Encrypts with the current key; decrypts with the current or any previous key."""

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self._current = _fernet(current)
        self._all = MultiFernet([self._current, *(_fernet(k) for k in previous)])

    def encrypt(self, plaintext: str) -> str:
        return self._current.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._all.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise ConnectionFailed(
                "The stored password cannot be decrypted with the configured secret keys; "
                "set SQLGATE_PREVIOUS_SECRET_KEYS to the key it was written with, or set the "
                "password again"
            ) from None

    def is_current(self, token: str) -> bool:
        try:
            self._current.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same secret, encrypted with the current key."""
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise ConnectionFailed("A stored password cannot be decrypted with any key") from None
