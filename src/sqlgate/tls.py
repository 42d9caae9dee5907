"""HTTPS for ``sqlgate serve``: the server's TLS context, the self-signed certificate it can make
for itself, and the start-up warning for a plain-HTTP service reachable from other machines.

The TLS context is uvicorn's own (certificate, key, Python's cipher list), with the protocol
floor raised to TLS 1.2 whatever the platform's OpenSSL allows, and renegotiation off. It is
built through uvicorn's ``ssl_context_factory`` hook, a module-level function so that it
reaches ``--workers`` processes by name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlgate.errors import ValidationError
from sqlgate.settings import Settings

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
SELF_SIGNED_DAYS = 825  # the longest validity Apple's platforms accept for a server certificate


def server_context(_config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's ``ssl_context_factory``: its context, TLS 1.2 at least, no renegotiation."""
    context = default()
    context.minimum_version = MINIMUM_VERSION
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the certificate (DER), as ``openssl x509 -fingerprint``
    self_signed: bool
    created: bool = False  # the self-signed certificate was made by this start


def configure(settings: Settings) -> Tls | None:
    """The certificate and key to serve with, or None for plain HTTP. Refuses half a setup."""
    if settings.tls_self_signed:
        if settings.tls_cert or settings.tls_key:
            raise ValidationError("--tls-self-signed cannot be combined with --tls-cert/--tls-key")
        settings.ensure_data_dir()
        return ensure_self_signed(settings.data_dir, settings.host)
    if not settings.tls_cert and not settings.tls_key:
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise ValidationError("HTTPS needs both a certificate (--tls-cert) and its key (--tls-key)")
    for what, path in (("certificate", settings.tls_cert), ("key", settings.tls_key)):
        if not path.is_file():
            raise ValidationError(f"TLS {what} file not found: {path}")
    try:
        check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        check.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise ValidationError(
            f"Cannot use {settings.tls_cert} with {settings.tls_key}: {exc.strerror or exc}"
        ) from None
    return Tls(settings.tls_cert, settings.tls_key, fingerprint(settings.tls_cert), False)


def fingerprint(cert_path: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return format_fingerprint(cert.fingerprint(hashes.SHA256()))


def format_fingerprint(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def ensure_self_signed(data_dir: Path, host: str) -> Tls:
    """``<data_dir>/tls/cert.pem`` and ``key.pem``: made on first use, then reused (so the
    fingerprint clients pinned stays valid), remade only once expired."""
    from cryptography import x509

    directory = data_dir / "tls"
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
            return Tls(cert_path, key_path, fingerprint(cert_path), True)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_pem, key_pem = _make_self_signed(_names(host))
    _write_private(key_path, key_pem)
    cert_path.write_bytes(cert_pem)
    return Tls(cert_path, key_path, fingerprint(cert_path), True, created=True)


def _names(host: str) -> list[str]:
    """What the certificate is valid for: localhost, the loopback addresses, this machine's
    name, and the bound address when it is a specific one."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host and host not in ("0.0.0.0", "::") and host not in names:  # noqa: S104
        names.append(host)
    return names


def _make_self_signed(names: list[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sqlgate on {names[3]}")])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    signing_only = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False,
        crl_sign=False, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(signing_only, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)


HSTS = ("Strict-Transport-Security", "max-age=31536000")  # a year; one host, not its subdomains


def server_options(settings: Settings, tls: Tls | None) -> dict[str, Any]:
    """uvicorn's options for TLS and forwarded headers. Under TLS every response, uvicorn's own
    included, carries HSTS; behind a proxy that terminates TLS the proxy sends it."""
    options: dict[str, Any] = {"proxy_headers": settings.trust_proxy}
    if settings.trust_proxy:
        options["forwarded_allow_ips"] = settings.trusted_proxies
    if tls is not None:
        options.update(
            ssl_certfile=str(tls.cert),
            ssl_keyfile=str(tls.key),
            ssl_context_factory=server_context,
            headers=[HSTS],
        )
    return options


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: Settings, tls: Tls | None) -> str | None:
    """A plain-HTTP service on an address other machines can reach sends API keys in clear."""
    if tls is not None or settings.trust_proxy or is_loopback(settings.host):
        return None
    return (
        f"warning: serving plain HTTP on {settings.host}, which other machines can reach: API "
        "keys and results would cross the network unencrypted. Serve HTTPS (--tls-cert and "
        "--tls-key, or --tls-self-signed), or put a reverse proxy that terminates TLS in front "
        "and set SQLGATE_TRUST_PROXY=true (docs/deploy.md)."
    )
