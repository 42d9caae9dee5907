"""A local HTTP server that receives workflow webhooks, for tests: it records every request
(headers and body) and answers with the statuses it is told to, in order (then 200)."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.time() when it arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """Whether the signature is the HMAC-SHA256 of ``timestamp.body`` with ``secret``."""
        message = self.headers["x-sqlgate-timestamp"].encode() + b"." + self.body
        expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-sqlgate-signature", ""))


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    #: Seconds to wait before answering (a slow receiver).
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Over TLS: the server name (SNI) of every handshake.
    server_names: list[str | None] = field(default_factory=list)

    def deliveries(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@contextmanager
def webhook_receiver(
    host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None, name: str | None = None
) -> Iterator[Receiver]:
    """Listen on ``host``; with ``tls``, over HTTPS (the server names clients ask for are in
    ``receiver.server_names``), and the URL names ``name`` (default: ``host``)."""
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, time.time()))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"try again")

        def log_message(self, *_args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, *_args: Any) -> None:
            pass  # a refused handshake is what some tests want

    server = Server((host, 0), Handler)
    scheme = "http"
    if tls is not None:

        def sni(_sock: Any, server_name: str | None, _context: Any) -> None:
            with receiver.lock:
                receiver.server_names.append(server_name)

        tls.sni_callback = sni
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    receiver.url = f"{scheme}://{name or host}:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], capture_output=True, check=True)


def certificates(directory: Path) -> dict[str, tuple[Path, Path]]:
    """A test CA (``ca``: its certificate is the bundle to trust) and certificates with their
    keys: ``good`` (localhost, signed by the CA), ``wrong_host`` (another name, signed by the
    CA) and ``untrusted`` (localhost, self-signed)."""
    ca_cert, ca_key = directory / "ca.pem", directory / "ca-key.pem"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-days", "2", "-keyout", str(ca_key), "-out", str(ca_cert),
             "-subj", "/CN=sqlgate test CA")  # fmt: skip
    made = {"ca": (ca_cert, ca_key)}
    for label, dns, signed in (
        ("good", "localhost", True),
        ("wrong_host", "elsewhere.test", True),
        ("untrusted", "localhost", False),
    ):
        cert, key = directory / f"{label}.pem", directory / f"{label}-key.pem"
        san = f"subjectAltName=DNS:{dns}"
        if signed:
            csr, ext = directory / f"{label}.csr", directory / f"{label}.ext"
            ext.write_text(san + "\n")
            _openssl("req", "-new", *ec, "-keyout", str(key), "-out", str(csr),
                     "-subj", f"/CN={dns}")  # fmt: skip
            _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert),
                     "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2", "-out", str(cert),
                     "-extfile", str(ext))  # fmt: skip
        else:
            _openssl("req", "-x509", *ec, "-days", "2", "-keyout", str(key), "-out", str(cert),
                     "-subj", f"/CN={dns}", "-addext", san)  # fmt: skip
        made[label] = (cert, key)
    return made


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
