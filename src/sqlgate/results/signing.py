"""Signed download links for async results: HMAC-SHA256 over (job, file, expiry).

A link is ``/v1/results/{job_id}/{file}?expires=<unix seconds>&signature=<base64url>``. It works
without an API key, for one file of one job, until ``expires``. The signing key is derived from
the server secret (``Settings.resolved_secret_key()``) for this one purpose, so a signature
never reveals anything usable elsewhere (and rotating the secret revokes every link).

Signatures never reach a log: :class:`RedactSignatures` filters uvicorn's access log, which would
otherwise print the query string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass

from sqlgate.errors import AuthorizationError

_PURPOSE = b"sqlgate result links v1"
RESULTS_PREFIX = "/v1/results"


@dataclass(frozen=True)
class SignedLink:
    url: str
    expires_at: int  # unix seconds


class LinkSigner:
    """Signs ``(id, name, expiry)``; a ``purpose`` of its own (shared dashboard links have one)
    makes its signatures useless for any other kind of link."""

    def __init__(self, secret: str, purpose: bytes = _PURPOSE) -> None:
        self._key = hmac.new(secret.encode(), purpose, hashlib.sha256).digest()

    def _signature(self, job_id: str, file: str, expires: int) -> str:
        message = f"{job_id}\n{file}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def signature(self, item_id: str, name: str, expires: int) -> str:
        return self._signature(item_id, name, expires)

    def sign(self, job_id: str, file: str, expires: int) -> SignedLink:
        """The relative URL of ``file`` of ``job_id``, valid until ``expires`` (unix s)."""
        signature = self._signature(job_id, file, expires)
        url = f"{RESULTS_PREFIX}/{job_id}/{file}?expires={expires}&signature={signature}"
        return SignedLink(url, expires)

    def verify(self, job_id: str, file: str, expires: int | None, signature: str | None) -> bool:
        """Whether the signature is genuine (expiry is checked separately: :func:`check_fresh`)."""
        if expires is None or not signature:
            return False
        expected = self._signature(job_id, file, expires)
        return hmac.compare_digest(expected.encode(), signature.encode())


def check_signed(
    signer: LinkSigner, job_id: str, file: str, expires: int | None, signature: str | None
) -> None:
    """Raise the 403 for a tampered or unsigned link."""
    if not signer.verify(job_id, file, expires, signature):
        raise AuthorizationError(
            "This download link is not valid (wrong or missing signature); request a fresh "
            "one from GET /v1/jobs/{id}"
        )


def check_fresh(expires: int, now: float | None = None) -> None:
    """Raise the 403 for a genuine link whose time is up."""
    if expires <= int(now if now is not None else time.time()):
        raise AuthorizationError(
            "This download link has expired; request a fresh one with POST "
            "/v1/jobs/{id}/links (or GET /v1/jobs/{id})",
            reason="expired",
        )


_SIGNATURE = re.compile(r"(signature=)[^&\s\"]*")


def redact(text: str) -> str:
    return _SIGNATURE.sub(r"\1[redacted]", text)


class RedactSignatures(logging.Filter):
    """Replace link signatures in log records (uvicorn's access log prints full paths)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            for a in args:  # one look at each argument: most lines have nothing to redact
                if isinstance(a, str) and "signature=" in a:
                    record.args = tuple(
                        redact(a) if isinstance(a, str) and "signature=" in a else a for a in args
                    )
                    break
        if isinstance(record.msg, str) and "signature=" in record.msg:
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    """Filter uvicorn's access and error logs (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSignatures) for f in logger.filters):
            logger.addFilter(RedactSignatures())
