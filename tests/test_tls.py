"""HTTPS through a real `sqlgate serve` process: self-signed and given certificates, checked by
curl and httpx; the TLS 1.2 floor; HSTS; the printed fingerprint; the plain-HTTP warning and
forwarded headers behind a proxy."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sqlgate import tls
from sqlgate.settings import Settings
from tests.test_server import add_chinook, free_port, prepare, sqlgate, start_server

pytestmark = pytest.mark.server

HSTS = "strict-transport-security"


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("server did not stop on SIGINT")
    return output


def banner(proc: subprocess.Popen[str]) -> str:
    """The start-up lines, up to uvicorn's first log line (read while the server runs)."""
    assert proc.stdout is not None
    lines = []
    for _ in range(30):
        line = proc.stdout.readline()
        lines.append(line)
        if not line or line.startswith("INFO:"):
            break
    return "".join(lines)


def printed_fingerprint(text: str) -> str:
    found = re.search(r"SHA-256 fingerprint: ([0-9A-F:]{95})", text)
    assert found, text
    return found.group(1)


def verifying(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def served_certificate(base: str, context: ssl.SSLContext) -> tuple[bytes, str]:
    """The certificate the server presents (DER) and the negotiated protocol."""
    host, port = base.removeprefix("https://").rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
        assert der is not None
        return der, str(conn.version())


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    data_dir = tmp_path_factory.mktemp("tls")
    proc, base = start_server(data_dir, "--tls-self-signed", https=True)
    text = banner(proc)
    yield base, data_dir, text
    output = stop(proc)
    assert proc.returncode == 0, output


def test_self_signed_certificate_is_made_and_printed(
    self_signed: tuple[str, Path, str],
) -> None:
    base, data_dir, text = self_signed
    cert = data_dir / "tls" / "cert.pem"
    key = data_dir / "tls" / "key.pem"
    assert cert.is_file() and key.is_file()
    assert key.stat().st_mode & 0o077 == 0  # the private key is the owner's only
    assert f"on {base}" in text and f"{base}/docs" in text
    assert "TLS certificate (new): " + str(cert) in text
    # The printed fingerprint is the certificate's on disk and the one the server presents.
    printed = printed_fingerprint(text)
    assert printed == tls.fingerprint(cert)
    der, _ = served_certificate(base, verifying(cert))
    assert printed == tls.format_fingerprint(hashlib.sha256(der).digest())
    openssl = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert openssl.stdout.strip().endswith("=" + printed)


def test_curl_verifies_the_self_signed_certificate(self_signed: tuple[str, Path, str]) -> None:
    base, data_dir, _ = self_signed
    cert = data_dir / "tls" / "cert.pem"
    port = base.rsplit(":", 1)[1]
    for url in (f"{base}/healthz", f"https://localhost:{port}/healthz"):
        done = subprocess.run(
            ["curl", "-sS", "--fail", "-D", "-", "--cacert", str(cert), url],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        head, _, body = done.stdout.partition("\n\n")
        assert json.loads(body)["status"] == "ok"
        assert re.search(r"(?im)^strict-transport-security: max-age=31536000\r?$", head), head
    # Without the certificate, curl refuses the server (exit 60: peer certificate not trusted).
    refused = subprocess.run(
        ["curl", "-sS", f"{base}/healthz"], capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert refused.returncode == 60, refused.stderr


def test_httpx_verifies_and_every_response_has_hsts(self_signed: tuple[str, Path, str]) -> None:
    base, data_dir, _ = self_signed
    with httpx.Client(base_url=base, verify=verifying(data_dir / "tls" / "cert.pem")) as client:
        for method, path, status in (
            ("GET", "/healthz", 200),
            ("GET", "/openapi.json", 200),
            ("GET", "/docs", 200),
            ("GET", "/v1/keys", 401),
            ("GET", "/nowhere", 404),
            ("POST", "/api/v1/run_sql", 401),
        ):
            r = client.request(method, path)
            assert r.status_code == status, (path, r.text)
            assert r.headers[HSTS] == "max-age=31536000", path
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{base}/healthz")  # the system's trust store does not know it


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused_and_1_2_accepted(self_signed: tuple[str, Path, str]) -> None:
    base, data_dir, _ = self_signed
    cert = data_dir / "tls" / "cert.pem"

    def client(version: ssl.TLSVersion) -> ssl.SSLContext:
        context = verifying(cert)
        # Security level 0 lets this client offer TLS 1.1 at all: the refusal must be the server's.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = version
        return context

    # The server ends the handshake (an alert, or asyncio closes the socket at once); a client
    # that could not offer TLS 1.1 would fail with NO_PROTOCOLS_AVAILABLE instead.
    refused = r"(?i)protocol.version|unsupported.protocol|UNEXPECTED_EOF"
    with pytest.raises(ssl.SSLError, match=refused):
        served_certificate(base, client(ssl.TLSVersion.TLSv1_1))
    assert served_certificate(base, client(ssl.TLSVersion.TLSv1_2))[1] == "TLSv1.2"
    assert served_certificate(base, verifying(cert))[1] == "TLSv1.3"


def test_the_server_context_has_a_tls_1_2_floor() -> None:
    # Whatever the platform's OpenSSL allows (here: a context that would accept anything).
    def permissive() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        return context

    context = tls.server_context(None, permissive)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION


def test_self_signed_certificate_is_reused(tmp_path: Path) -> None:
    fingerprints = []
    for start in range(2):
        proc, _ = start_server(tmp_path, "--tls-self-signed", https=True)
        text = banner(proc)
        stop(proc)
        assert ("(new)" in text) == (start == 0), text
        fingerprints.append(printed_fingerprint(text))
    assert fingerprints[0] == fingerprints[1]


def test_given_certificate_and_key(tmp_path: Path) -> None:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=True,
    )  # fmt: skip
    data_dir = tmp_path / "data"
    proc, base = start_server(data_dir, "--tls-cert", str(cert), "--tls-key", str(key), https=True)
    try:
        text = banner(proc)
        assert printed_fingerprint(text) == tls.fingerprint(cert)
        assert "(new)" not in text and not (data_dir / "tls").exists()
        r = httpx.get(f"{base}/healthz", verify=verifying(cert))
        assert r.status_code == 200 and r.headers[HSTS] == "max-age=31536000"
        done = subprocess.run(
            ["curl", "-sS", "--fail", "--cacert", str(cert), f"{base}/healthz"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and json.loads(done.stdout)["status"] == "ok", done.stderr
    finally:
        stop(proc)


def test_settings_from_the_environment(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=x",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=True,
    )  # fmt: skip
    env = {"SQLGATE_TLS_CERT": str(cert), "SQLGATE_TLS_KEY": str(key)}
    proc, base = start_server(tmp_path / "data", env=env, https=True)
    try:
        assert httpx.get(f"{base}/healthz", verify=verifying(cert)).status_code == 200
    finally:
        stop(proc)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "c.pem"], "needs both a certificate (--tls-cert) and its key"),
        (["--tls-key", "k.pem"], "needs both a certificate (--tls-cert) and its key"),
        (["--tls-cert", "missing.pem", "--tls-key", "k.pem"], "TLS certificate file not found"),
        (["--tls-cert", "c.pem", "--tls-key", "c.pem"], "Cannot use"),
        (["--tls-self-signed", "--tls-cert", "c.pem"], "cannot be combined"),
    ],
)
def test_incomplete_tls_settings_stop_start_up(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "c.pem").write_text("not a certificate\n")
    (tmp_path / "k.pem").write_text("not a key\n")
    resolved = [str(tmp_path / a) if a.endswith(".pem") else a for a in args]
    done = sqlgate("serve", "--port", str(free_port()), *resolved, data_dir=tmp_path / "d")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _spawn(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    port = free_port()
    return subprocess.Popen(
        [sys.executable, "-m", "sqlgate", "serve", "--port", str(port),
         "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def serve_briefly(*runs: tuple[Path, list[str], dict[str, str] | None]) -> list[str]:
    """Each run (data directory, arguments, environment) started, waited on until it listens,
    stopped: everything each printed. The servers start together, each in its own data
    directory: their start-ups (mostly imports) overlap."""
    procs = [_spawn(data_dir, *args, env=env) for data_dir, args, env in runs]
    try:
        texts = [banner(proc) for proc in procs]
        return [text + stop(proc) for text, proc in zip(texts, procs, strict=True)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_plain_http_on_a_public_address_warns(tmp_path: Path) -> None:
    warning = "warning: serving plain HTTP on 0.0.0.0"
    public, proxied, quiet, local = serve_briefly(
        (tmp_path / "public", ["--host", "0.0.0.0"], None),
        (tmp_path / "proxied", ["--host", "0.0.0.0"], {"SQLGATE_TRUST_PROXY": "true"}),
        (tmp_path / "quiet", ["--host", "0.0.0.0", "--tls-self-signed"], None),
        (tmp_path / "local", [], None),  # 127.0.0.1
    )
    assert warning in public
    assert warning not in proxied
    assert "warning:" not in quiet and "https://0.0.0.0:" in quiet
    assert "warning:" not in local


def test_warning_rule() -> None:
    for host, warns in (
        ("127.0.0.1", False), ("::1", False), ("localhost", False), ("127.0.0.2", False),
        ("0.0.0.0", True), ("::", True), ("192.168.1.10", True), ("db.example.com", True),
    ):  # fmt: skip
        assert (tls.exposure_warning(Settings(host=host), None) is not None) == warns, host
    assert tls.exposure_warning(Settings(host="0.0.0.0", trust_proxy=True), None) is None


def test_forwarded_headers_count_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    """The job's status_url follows the proxy's scheme only with SQLGATE_TRUST_PROXY."""
    init = prepare("init", "--json", data_dir=tmp_path)
    assert init.returncode == 0, init.stderr
    assert add_chinook(tmp_path).returncode == 0
    key = json.loads(init.stdout)["api_key"]
    forwarded = {"Authorization": f"Bearer {key}", "X-Forwarded-Proto": "https",
                 "X-Forwarded-For": "203.0.113.9", "Host": "sql.example.com"}  # fmt: skip
    body = {"query": "SELECT 1 AS x", "connection_id": "chinook", "format": "csv"}
    for trusted, scheme in (("false", "http"), ("true", "https")):
        proc, base = start_server(tmp_path, env={"SQLGATE_TRUST_PROXY": trusted})
        try:
            r = httpx.post(f"{base}/v1/jobs", headers=forwarded, json=body)
            assert r.status_code == 202, r.text
            assert r.json()["status_url"].startswith(f"{scheme}://sql.example.com/v1/jobs/")
        finally:
            stop(proc)
