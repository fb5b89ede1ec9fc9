"""Delivery adapters for notifications to citizens: e-mail (``smtplib``, optional STARTTLS), SMS (HTTP POST JSON
to a gateway with a bearer token, ``httpx``) and the outbox file (JSON lines, for every channel that is not
configured). :class:`MemoryTransport` is the in-memory adapter for tests.

Each adapter delivers one message or raises; queueing, retries and bookkeeping are
:mod:`services.notifications`. The idempotency key travels with the message (the e-mail's ``Message-ID`` is
derived from it, the SMS gateway gets it as ``Idempotency-Key``), so after a crash between sending and
recording, the receiving side can recognise the repeat.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol, cast

import httpx

CHANNELS = ("email", "sms", "outbox")


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    channel: str
    recipient: str
    subject: str
    body: str
    idempotency_key: str
    dossier_code: str | None = None


class Transport(Protocol):
    """Delivers one message or raises (the dispatcher records the error and retries)."""

    def send(self, message: OutgoingMessage) -> None: ...


# ------------------------------------------------------------------ delivery adapters


class EmailTransport:
    """E-mail over SMTP (``smtplib``): UTF-8 subject and body, optional STARTTLS and login."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.user = user
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.tls_context = tls_context

    def build(self, message: OutgoingMessage, now: dt.datetime | None = None) -> Message:
        """The MIME message: UTF-8 quoted-printable body, RFC 2047 subject and names (the ``compat32`` header
        encoder: Python 3.11's default policy drops a space where it folds a long encoded subject)."""
        charset = Charset("utf-8")
        charset.body_encoding = QP
        email = MIMEText(message.body, "plain", cast(Any, charset))  # a Charset: quoted-printable
        name, address = parseaddr(self.sender)
        email["From"] = formataddr((name, address), charset="utf-8") if name else address
        email["To"] = message.recipient
        email["Subject"] = cast(Any, Header(message.subject, "utf-8"))
        email["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
        domain = address.rpartition("@")[2] or "motcua.invalid"
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:40]
        email["Message-ID"] = f"<{digest}@{domain}>"  # the same message always has the same id
        email["X-Motcua-Idempotency-Key"] = message.idempotency_key
        return email

    def send(self, message: OutgoingMessage) -> None:
        email = self.build(message)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.tls_context or ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                self._login(smtp)
            smtp.send_message(email)

    def _login(self, smtp: smtplib.SMTP) -> None:
        user, password = self.user or "", self.password or ""
        if (user + password).isascii():
            smtp.login(user, password)
            return
        # smtplib encodes credentials as ASCII; AUTH PLAIN is defined over UTF-8 (RFC 4616)
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
        code, answer = smtp.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, answer)


class SmsTransport:
    """SMS through an HTTP gateway: ``POST <url>`` with JSON ``{to, subject, message, idempotency_key}``,
    ``Authorization: Bearer <token>`` and ``Idempotency-Key``; any non-2xx answer is a failure."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> None:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = {
            "to": message.recipient,
            "subject": message.subject,
            "message": message.body,
            "idempotency_key": message.idempotency_key,
        }
        response = httpx.post(self.url, json=payload, headers=headers, timeout=self.timeout)
        if not response.is_success:
            raise RuntimeError(f"SMS gateway answered HTTP {response.status_code}: {response.text[:200]}")


class FileTransport:
    """The default adapter: one JSON line per message, appended (and fsynced) to a local file."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, message: OutgoingMessage) -> None:
        line = json.dumps(
            {
                "id": message.id,
                "channel": message.channel,
                "recipient": message.recipient,
                "subject": message.subject,
                "body": message.body,
                "idempotency_key": message.idempotency_key,
                "dossier_code": message.dossier_code,
                "written_at": dt.datetime.now(dt.UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())


@dataclass
class MemoryTransport:
    """Unit tests: keeps what it was asked to send; ``failures`` makes the next sends raise."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    failures: int = 0

    def send(self, message: OutgoingMessage) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("memory transport: simulated failure")
        self.sent.append(message)
