"""Notifications to citizens (the ``Notifier`` port): an outbox, a dispatcher and delivery adapters.

``Outbox.notify`` only writes a row of the ``notification`` table, inside the caller's unit of work
(:func:`persistence.uow.transaction`): the message exists exactly when the business change it announces was
committed. The :class:`Dispatcher` (run by the housekeeping thread) delivers pending rows afterwards:

* a row is *claimed* (``pending`` → ``sending``) by a conditional update before it is sent, so two
  dispatchers (several processes run housekeeping) never both send it;
* success → ``sent``; a failure → back to ``pending`` with ``attempts`` + 1 and ``last_error``, retried after
  ``retry_seconds`` × 2^(attempts − 1); after ``max_attempts`` → ``failed`` (kept, with its error: nothing is
  lost; an operator may :meth:`Dispatcher.requeue` it);
* a ``sent`` row is never sent again; the idempotency key travels with the message (the e-mail's
  ``Message-ID`` is derived from it, the SMS gateway gets it as ``Idempotency-Key``), so after a crash
  between sending and recording, the receiving side can recognise the repeat;
* while a row is ``sending`` or waiting for a retry, ``sent_at`` holds the time the last attempt began (the
  schema has no separate column for it); once ``sent``, it is the delivery time. A ``sending`` row older
  than ``stale_seconds`` (the dispatcher died mid-attempt) is returned to ``pending``.

Adapters: e-mail (``smtplib``, optional STARTTLS), SMS (HTTP POST JSON to a gateway with a bearer token,
``httpx``), and the outbox file (JSON lines in ``var/outbox/notifications.jsonl``) used for every channel
that is not configured. :class:`MemoryTransport` is the in-memory adapter for unit tests.
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
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
import structlog
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select, update

from dossiers.ports import Clock
from persistence.counters import upsert
from persistence.schema import notification
from persistence.uow import transaction

log = structlog.get_logger(__name__)

CHANNELS = ("email", "sms", "outbox")
MAX_ERROR_CHARS = 2000


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


# ------------------------------------------------------------------ the outbox (Notifier port)


class Outbox:
    """:class:`~dossiers.ports.Notifier` adapter: one ``notification`` row per idempotency key."""

    def __init__(self, db: SqlEngine, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def notify(
        self,
        channel: str,
        recipient: str,
        subject: str,
        body: str,
        idempotency_key: str,
        *,
        dossier_code: str | None = None,
    ) -> str:
        if channel not in CHANNELS:
            raise ValueError(f"unknown notification channel {channel!r} (expected one of {', '.join(CHANNELS)})")
        if not recipient.strip() or not idempotency_key.strip():
            raise ValueError("a notification needs a recipient and an idempotency key")
        values = dict(
            id=str(uuid.uuid4()),
            dossier_code=dossier_code,
            channel=channel,
            recipient=recipient.strip()[:255],
            subject=subject[:255],
            body=body,
            idempotency_key=idempotency_key,
            status="pending",
            attempts=0,
            created_at=self.clock.now(),
        )
        with transaction(self.db) as conn:
            conn.execute(
                upsert(conn, notification).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            found = conn.execute(
                select(notification.c.id).where(notification.c.idempotency_key == idempotency_key)
            ).scalar_one()
        return str(found)


def notify_applicant(outbox: Outbox, row: Any, subject: str, body: str, idempotency_key: str) -> list[str]:
    """Queue a message to a dossier's applicant on every channel they gave (e-mail, phone); with neither,
    to the outbox file under the dossier code (the desk reads it and calls or writes). Returns the row ids."""
    targets: list[tuple[str, str]] = []
    email = (getattr(row, "applicant_email", None) or "").strip()
    phone = (getattr(row, "applicant_phone", None) or "").strip()
    if email:
        targets.append(("email", email))
    if phone:
        targets.append(("sms", phone))
    if not targets:
        targets.append(("outbox", f"dossier:{row.code}"))
    return [
        outbox.notify(channel, recipient, subject, body, f"{idempotency_key}/{channel}", dossier_code=row.code)
        for channel, recipient in targets
    ]


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


# ------------------------------------------------------------------ the dispatcher


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    recovered: int = 0


class Dispatcher:
    def __init__(
        self,
        db: SqlEngine,
        clock: Clock,
        transports: Mapping[str, Transport],
        fallback: Transport,
        *,
        max_attempts: int = 5,
        retry_seconds: float = 60.0,
        stale_seconds: float = 600.0,
        record: Callable[..., None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.transports = dict(transports)
        self.fallback = fallback
        self.max_attempts = max(1, max_attempts)
        self.retry_seconds = retry_seconds
        self.stale_seconds = stale_seconds
        self.record = record  # e.g. OneStopShop.record: an audit entry per delivery outcome

    def transport_for(self, channel: str) -> Transport:
        return self.transports.get(channel) or self.fallback

    def _due(self, row: Any, now: dt.datetime) -> bool:
        if row.attempts == 0 or row.sent_at is None:
            return True
        wait = self.retry_seconds * (2 ** (row.attempts - 1))
        return bool(row.sent_at + dt.timedelta(seconds=wait) <= now)

    def dispatch(self, limit: int = 100) -> DispatchReport:
        """Deliver the pending messages whose (re)try time has come; returns what happened."""
        now = self.clock.now()
        recovered = self._recover_stale(now)
        with transaction(self.db) as conn:
            rows = conn.execute(
                select(notification)
                .where(notification.c.status == "pending")
                .order_by(notification.c.created_at)
                .limit(max(limit * 10, 1000))
            ).all()
        sent = retrying = failed = 0
        for row in [r for r in rows if self._due(r, now)][:limit]:
            if not self._claim(row, now):
                continue  # another dispatcher took it
            outcome = self._deliver(row, now)
            sent += outcome == "sent"
            retrying += outcome == "pending"
            failed += outcome == "failed"
        return DispatchReport(sent, retrying, failed, recovered)

    def _claim(self, row: Any, now: dt.datetime) -> bool:
        with transaction(self.db) as conn:
            result = conn.execute(
                update(notification)
                .where(
                    notification.c.id == row.id,
                    notification.c.status == "pending",
                    notification.c.attempts == row.attempts,
                )
                .values(status="sending", sent_at=now)
            )
        return result.rowcount == 1

    def _deliver(self, row: Any, started: dt.datetime) -> str:
        message = OutgoingMessage(
            row.id, row.channel, row.recipient, row.subject, row.body, row.idempotency_key, row.dossier_code
        )
        attempts = row.attempts + 1
        try:
            self.transport_for(row.channel).send(message)
        except Exception as exc:  # noqa: BLE001 - any delivery failure is recorded and retried
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            status = "failed" if attempts >= self.max_attempts else "pending"
            with transaction(self.db) as conn:
                conn.execute(
                    update(notification)
                    .where(notification.c.id == row.id)
                    .values(status=status, attempts=attempts, last_error=error, sent_at=started)
                )
                if status == "failed" and self.record is not None:
                    self.record(
                        "notification.failed",
                        "system:notifier",
                        row.dossier_code,
                        notification_id=row.id,
                        channel=row.channel,
                        attempts=attempts,
                        error=error,
                    )
            log.warning("notification.delivery_failed", id=row.id, channel=row.channel, attempts=attempts, error=error)
            return status
        with transaction(self.db) as conn:
            conn.execute(
                update(notification)
                .where(notification.c.id == row.id)
                .values(status="sent", attempts=attempts, last_error=None, sent_at=self.clock.now())
            )
            if self.record is not None:
                self.record(
                    "notification.sent",
                    "system:notifier",
                    row.dossier_code,
                    notification_id=row.id,
                    channel=row.channel,
                    attempts=attempts,
                )
        return "sent"

    def _recover_stale(self, now: dt.datetime) -> int:
        cutoff = now - dt.timedelta(seconds=self.stale_seconds)
        with transaction(self.db) as conn:
            result = conn.execute(
                update(notification)
                .where(notification.c.status == "sending", notification.c.sent_at < cutoff)
                .values(status="pending", last_error="interrupted during delivery (dispatcher stopped)")
            )
        return int(result.rowcount or 0)

    def requeue(self, notification_id: str) -> bool:
        """An operator fixed the cause (gateway, address): a failed message gets a fresh set of attempts."""
        with transaction(self.db) as conn:
            result = conn.execute(
                update(notification)
                .where(notification.c.id == notification_id, notification.c.status == "failed")
                .values(status="pending", attempts=0, sent_at=None)
            )
        return result.rowcount == 1


def outbox_file(settings: Any) -> Path:
    return Path(settings.var_dir) / "outbox" / "notifications.jsonl"


def build_dispatcher(
    settings: Any, db: SqlEngine, clock: Clock, record: Callable[..., None] | None = None
) -> Dispatcher:
    """The dispatcher the settings describe: e-mail when MOTCUA_SMTP_HOST is set, SMS when
    MOTCUA_SMS_GATEWAY_URL is set; every other channel goes to the outbox file."""
    transports: dict[str, Transport] = {}
    if settings.smtp_host:
        transports["email"] = EmailTransport(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.notify_timeout_seconds,
        )
    if settings.sms_gateway_url:
        transports["sms"] = SmsTransport(
            settings.sms_gateway_url, settings.sms_gateway_token, timeout=settings.notify_timeout_seconds
        )
    return Dispatcher(
        db,
        clock,
        transports,
        FileTransport(outbox_file(settings)),
        max_attempts=settings.notify_max_attempts,
        retry_seconds=settings.notify_retry_seconds,
        record=record,
    )
