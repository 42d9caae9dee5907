"""Webhook deliveries of workflows: a signed JSON POST with retries, to allowed hosts only.

Signature: ``X-Sqlgate-Signature: sha256=<hex>``, the HMAC-SHA256 with the step's secret of
``<X-Sqlgate-Timestamp>.<body>``. ``X-Sqlgate-Delivery`` names the delivery and stays the same
across retries, so a receiver can drop a repeat.

Outbound addresses: the host's resolved addresses are checked (not just its name) and the
request goes to the checked address. Without ``SQLGATE_WEBHOOK_HOSTS`` only public (global)
addresses are allowed; loopback, private, link-local, multicast and reserved ranges are refused.
Hosts, addresses or CIDR ranges listed there are allowed besides.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from sqlgate import __version__
from sqlgate.errors import AuthorizationError
from sqlgate.library.workflow_spec import url_origin

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
#: How much of a receiver's answer the run keeps.
RESPONSE_CHARS = 500


class DeliveryFailed(Exception):
    """A webhook delivery failed (every attempt, or the host could not be resolved). A run's
    error, never an HTTP answer of sqlgate itself."""

    code = "delivery_failed"

    def __init__(self, message: str, delivery: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.delivery = delivery


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class HostPolicy:
    """``SQLGATE_WEBHOOK_HOSTS``: names and networks allowed besides public addresses."""

    names: frozenset[str] = frozenset()
    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> HostPolicy:
        names: set[str] = set()
        networks: list[IpNetwork] = []
        for item in (p.strip() for p in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def address(self, host: str, port: int) -> str:
        """The address to connect to for ``host``, once every address it resolves to is
        allowed; a refusal (403) says why."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise DeliveryFailed(f"Webhook host {host!r} does not resolve: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise DeliveryFailed(f"Webhook host {host!r} does not resolve")
        named = host.lower().rstrip(".") in self.names
        for addr in addresses:
            if not (named or self._allowed(addr)):
                raise AuthorizationError(
                    f"Webhook host {host!r} resolves to {addr}, which is not a public address; "
                    "list it in SQLGATE_WEBHOOK_HOSTS to allow it",
                    reason="webhook_host",
                )
        return str(addresses[0])

    def literal_refusal(self, host: str) -> str | None:
        """Why a URL naming an address (not a host name) would be refused; None if it would
        not, or if ``host`` is a name (names are checked when a delivery resolves them)."""
        try:
            addr = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None
        if host.lower() in self.names or self._allowed(addr):
            return None
        return f"{addr} is not a public address; list it in SQLGATE_WEBHOOK_HOSTS to allow it"

    def _allowed(self, addr: IpAddress) -> bool:
        if any(addr in net for net in self.networks if net.version == addr.version):
            return True
        mapped = getattr(addr, "ipv4_mapped", None)
        return bool((mapped or addr).is_global) and not addr.is_multicast


_sending = threading.local()  # set while this thread sends a webhook


class _HideWebhookPaths(logging.Filter):
    """httpx logs every request's URL (at INFO): a webhook's is logged without its path and
    query, which may be its credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_sending, "active", False) and isinstance(record.args, tuple):
            record.args = tuple(
                f"{a.scheme}://{a.netloc.decode('ascii', 'replace')}/..."
                if isinstance(a, httpx.URL)
                else a
                for a in record.args
            )
        return True


def _hide_webhook_paths() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HideWebhookPaths) for f in logger.filters):
        logger.addFilter(_HideWebhookPaths())


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One context for every delivery (building one reads the whole bundle): ``ca_file``, or as
    httpx chooses by default (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else certifi's bundle)."""
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _certificate_refused(exc: BaseException) -> bool:
    """Whether ``exc`` came from a TLS certificate check that failed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _describe(exc: BaseException, host: str) -> str:
    if _certificate_refused(exc):
        return (
            f"TLS certificate check failed: the receiver's certificate is not valid for {host} "
            f"or not signed by a trusted authority (a private one: SQLGATE_WEBHOOK_CA_FILE): "
            f"{exc}"
        )
    return f"{type(exc).__name__}: {exc}"


def _without_path(text: str, parts: Any) -> str:
    """``text`` (an error) without the URL's path and query, which may be its credential."""
    for secret in (parts.query, parts.path):
        if len(secret) > 1:
            text = text.replace(secret, "/...")
    return text


@dataclass
class Delivery:
    """What one delivery did: each attempt's status (or network error) and time. ``url`` is
    the URL's origin only (scheme, host, port): the rest may be a credential."""

    delivery_id: str
    url: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "url": self.url, "attempts": self.attempts}


class WebhookSender:
    def __init__(
        self,
        policy: HostPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = BACKOFF_SECONDS,
        ca_file: str | None = None,
    ) -> None:
        self._policy = policy
        self._sleep = sleep
        self._backoff = backoff
        # Certificates are checked against the URL's host name (never the address connected
        # to), with ``ca_file`` (SQLGATE_WEBHOOK_CA_FILE) or the authorities httpx would use.
        self._tls = _tls_context(ca_file)
        _hide_webhook_paths()

    def send(
        self,
        url: str,
        payload: bytes,
        *,
        delivery_id: str,
        secret: str | None,
        timeout: float,
        retries: int,
    ) -> Delivery:
        """POST ``payload``; retried with backoff on 5xx, 429 and network errors. Raises
        DeliveryFailed (with the attempts in ``delivery``) when no attempt succeeded."""
        delivery = Delivery(delivery_id, url_origin(url))
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for attempt in range(retries + 1):
            if attempt:
                self._sleep(min(self._backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
            started = time.monotonic()
            record: dict[str, Any] = {"attempt": attempt + 1}
            try:
                address = self._policy.address(host, port)
                record.update(self._post(parts, address, payload, delivery_id, secret, timeout))
            except DeliveryFailed as exc:
                record["error"] = exc.message
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                record["error"] = _without_path(_describe(exc, host), parts)[:RESPONSE_CHARS]
                if _certificate_refused(exc):
                    record["tls_verified"] = False
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            delivery.attempts.append(record)
            status = record.get("status_code")
            if status is not None and status < 300:
                delivery.ok = True
                return delivery
            if status is not None and status < 500 and status != 429:
                break  # the receiver refused it: another try would be refused too
            if record.get("tls_verified") is False:
                break  # the same certificate would be refused again
        last = delivery.attempts[-1]
        why = f"HTTP {last['status_code']}" if "status_code" in last else last.get("error")
        raise DeliveryFailed(
            f"Webhook delivery to {host} failed after {len(delivery.attempts)} attempt(s): {why}",
            delivery=delivery.as_dict(),
        )

    def _post(
        self,
        parts: Any,
        address: str,
        payload: bytes,
        delivery_id: str,
        secret: str | None,
        timeout: float,
    ) -> dict[str, Any]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"sqlgate/{__version__}",
            "X-Sqlgate-Delivery": delivery_id,
            "X-Sqlgate-Timestamp": timestamp,
        }
        if secret:
            headers["X-Sqlgate-Signature"] = sign(secret, timestamp, payload)
        extensions: dict[str, Any] = {}
        # Connect to the address that was checked, so a second lookup cannot move the request
        # elsewhere; the Host header (and, over TLS, the server name checked against the
        # certificate) keeps the name.
        ip = f"[{address}]" if ":" in address else address
        netloc = f"{ip}:{parts.port}" if parts.port else ip
        target = urlunsplit(parts._replace(netloc=netloc))
        headers["Host"] = parts.netloc
        if parts.scheme == "https":
            extensions["sni_hostname"] = parts.hostname
        _sending.active = True
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, verify=self._tls) as c:
                response = c.post(target, content=payload, headers=headers, extensions=extensions)
        finally:
            _sending.active = False
        return {"status_code": response.status_code, "body": response.text[:RESPONSE_CHARS]}
