"""A real SMTP server for tests (aiosmtpd) that requires STARTTLS with a self-signed
certificate, optionally a login, and keeps every message it accepts."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.test_server import free_port


@dataclass
class Inbox:
    url: str
    ca_file: Path
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    #: SMTP answers to give to the next messages instead of accepting them (e.g. "451 later").
    answers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self.lock:
            return list(self.messages)


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True, check=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def smtp_server(
    directory: Path, *, user: str = "mailer", password: str = "p@ss"
) -> Iterator[Inbox]:
    cert, key = _certificate(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    inbox = Inbox(f"smtp://{user}:{password.replace('@', '%40')}@127.0.0.1:{port}", cert)

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            with inbox.lock:
                if inbox.answers:
                    return inbox.answers.pop(0)
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                inbox.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            return "250 OK"

    def authenticate(
        _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
