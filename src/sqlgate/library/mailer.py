"""E-mail deliveries of workflows, through the SMTP server of ``SQLGATE_SMTP_URL``.

``smtp://[user:password@]host[:587]`` speaks STARTTLS and refuses a server that does not offer
it; ``smtps://host[:465]`` is TLS from the first byte; ``smtp+plain://host[:25]`` sends in clear
(a relay on the same machine only). Certificates are checked against the system's authorities,
or ``SQLGATE_SMTP_CA_FILE``. The password is the operator's (an environment variable), never a
user's, and is never shown.

A message's ``Message-ID`` is made from the delivery id, the same on every retry, so a mail
system that saw it already can drop the repeat. Temporary failures (4xx answers, a dropped
connection) are retried with backoff; permanent ones (5xx) are not.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlgate.library.webhooks import BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, DeliveryFailed

SCHEMES = {"smtp": 587, "smtps": 465, "smtp+plain": 25}


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(
                "SQLGATE_SMTP_URL must be smtp://host[:port] (STARTTLS), smtps://host[:port] "
                "or smtp+plain://host[:port]"
            )
        return cls(
            parts.scheme,
            parts.hostname,
            parts.port or SCHEMES[parts.scheme],
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    text: str
    attachment: tuple[str, bytes] | None = None  # file name, CSV bytes


class Mailer:
    def __init__(
        self,
        url: str | None,
        sender: str,
        *,
        ca_file: str | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._server = SmtpServer.parse(url) if url else None
        self._sender = sender
        self._ca_file = ca_file
        self._timeout = timeout
        self._sleep = sleep

    @property
    def configured(self) -> bool:
        return self._server is not None

    def send(self, mail: Mail, *, delivery_id: str, retries: int = 2) -> dict[str, Any]:
        """Send ``mail``; what happened (``attempts``), or DeliveryFailed."""
        if self._server is None:
            raise DeliveryFailed("E-mail is not set up on this server: set SQLGATE_SMTP_URL")
        message = self._message(mail, delivery_id)
        out: dict[str, Any] = {
            "delivery_id": delivery_id,
            "to": mail.to,
            "message_id": message["Message-ID"],
            "attempts": [],
        }
        for attempt in range(retries + 1):
            if attempt:
                self._sleep(min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
            started = time.monotonic()
            record: dict[str, Any] = {"attempt": attempt + 1}
            final = False
            try:
                self._deliver(self._server, message)
                record["status"] = "sent"
            except smtplib.SMTPResponseException as exc:
                record["error"] = f"{exc.smtp_code} {exc.smtp_error!r}"[:500]
                final = exc.smtp_code >= 500
            except smtplib.SMTPRecipientsRefused as exc:
                record["error"] = f"recipients refused: {', '.join(exc.recipients)}"[:500]
                final = True
            except (OSError, smtplib.SMTPException) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"[:500]
                final = isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError)
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            out["attempts"].append(record)
            if record.get("status") == "sent":
                return out
            if final:
                break
        raise DeliveryFailed(
            f"E-mail to {', '.join(mail.to)} failed after {len(out['attempts'])} attempt(s): "
            f"{out['attempts'][-1]['error']}",
            delivery=out,
        )

    def _message(self, mail: Mail, delivery_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self._sender.rpartition("@")[2] or "sqlgate.invalid"
        message["Message-ID"] = f"<{delivery_id}@{domain}>"
        message.set_content(mail.text)
        if mail.attachment is not None:
            name, data = mail.attachment
            message.add_attachment(data, maintype="text", subtype="csv", filename=name)
        return message

    def _deliver(self, server: SmtpServer, message: EmailMessage) -> None:
        context = ssl.create_default_context(cafile=self._ca_file)
        smtp: smtplib.SMTP
        if server.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self._timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
        with smtp:
            smtp.ehlo(socket.getfqdn())
            if server.scheme == "smtp":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the SMTP server does not offer STARTTLS (smtp+plain:// sends in clear)"
                    )
                smtp.starttls(context=context)
                smtp.ehlo(socket.getfqdn())
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(message)
