"""Notifications to citizens (the ``Notifier`` port): the outbox, who gets what, and the dispatcher.

``Outbox.notify`` only writes a row of the ``notification`` table, inside the caller's unit of work
(:func:`persistence.uow.transaction`): the message exists exactly when the business change it announces was
committed. The :class:`Dispatcher` (run by housekeeping) delivers pending rows afterwards through the adapters
of :mod:`integrations.notifications`, with the one outbox mechanism of :mod:`persistence.outbox`:

* a row is *claimed* (``pending`` → ``sending``) before it is sent, so two dispatchers (several processes run
  housekeeping) never both send it;
* success → ``sent``; a failure → back to ``pending`` with ``attempts`` + 1 and ``last_error``, retried after
  ``retry_seconds`` × 2^(attempts − 1); after ``max_attempts`` → ``failed`` (kept, with its error: nothing is
  lost; an operator may :meth:`Dispatcher.requeue` it);
* a ``sent`` row is never sent again;
* while a row is ``sending`` or waiting for a retry, ``sent_at`` holds the time the last attempt began (the
  schema has no separate column for it); once ``sent``, it is the delivery time. A ``sending`` row older
  than ``stale_seconds`` (the dispatcher died mid-attempt) is returned to ``pending``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from dossiers.errors import NotFound
from dossiers.ports import Clock
from integrations.notifications import (
    CHANNELS,
    EmailTransport,
    FileTransport,
    OutgoingMessage,
    SmsTransport,
    Transport,
)
from persistence import notifications as messages
from persistence import outbox as queues
from persistence.uow import Database, transaction

log = structlog.get_logger(__name__)

SENT = "sent"


# ------------------------------------------------------------------ the outbox (Notifier port)


class Outbox:
    """:class:`~dossiers.ports.Notifier` adapter: one ``notification`` row per idempotency key."""

    def __init__(self, db: Database, clock: Clock) -> None:
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
            status=queues.PENDING,
            attempts=0,
            created_at=self.clock.now(),
        )
        with transaction(self.db) as conn:
            return messages.add(conn, values)


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
        db: Database,
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

    @property
    def queue(self) -> queues.Queue:
        """The ``notification`` table as an outbox queue: retried after ``sent_at``, the last attempt's start."""
        return messages.queue(queues.Backoff(self.retry_seconds), self.stale_seconds, self.max_attempts)

    def transport_for(self, channel: str) -> Transport:
        return self.transports.get(channel) or self.fallback

    def dispatch(self, limit: int = 100) -> DispatchReport:
        """Deliver the pending messages whose (re)try time has come; returns what happened."""
        now = self.clock.now()
        recovered = queues.release_stale(self.db, self.queue, now)
        sent = retrying = failed = 0
        tried: list[str] = []
        while len(tried) < limit:
            row = queues.claim_next(self.db, self.queue, now, skip=tried)
            if row is None:
                break
            tried.append(row.id)
            outcome = self._deliver(row, now)
            sent += outcome == SENT
            retrying += outcome == queues.PENDING
            failed += outcome == queues.FAILED
        return DispatchReport(sent, retrying, failed, recovered)

    def _claim(self, row: Any, now: dt.datetime) -> bool:
        return queues.claim(self.db, self.queue, row.id, now)

    def _deliver(self, row: Any, started: dt.datetime) -> str:
        message = OutgoingMessage(
            row.id, row.channel, row.recipient, row.subject, row.body, row.idempotency_key, row.dossier_code
        )
        attempts = row.attempts + 1
        try:
            self.transport_for(row.channel).send(message)
        except Exception as exc:  # noqa: BLE001 - any delivery failure is recorded and retried
            error = f"{type(exc).__name__}: {exc}"[: queues.MAX_ERROR_CHARS]
            with transaction(self.db):
                status = queues.record_failure(self.db, self.queue, row.id, attempts, error, started)
                if status == queues.FAILED and self.record is not None:
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
        with transaction(self.db):
            queues.record_delivery(
                self.db, self.queue, row.id, attempts, SENT, last_error=None, sent_at=self.clock.now()
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
        return SENT

    def requeue(self, notification_id: str) -> bool:
        """An operator fixed the cause (gateway, address): a failed message gets a fresh set of attempts."""
        return queues.requeue(self.db, self.queue, notification_id, self.clock.now())


def outbox_file(settings: Any) -> Path:
    return Path(settings.var_dir) / "outbox" / "notifications.jsonl"


def build_dispatcher(
    settings: Any, db: Database, clock: Clock, record: Callable[..., None] | None = None
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


def list_notifications(db: Any, *, status: str | None = None, dossier_code: str | None = None) -> list[dict[str, Any]]:
    """The outbox as the operators see it: what was sent, what is waiting, what failed (newest 500)."""
    with transaction(db) as conn:
        rows = messages.newest(conn, status=status, dossier_code=dossier_code)
    return [
        {
            "id": r.id,
            "dossier_code": r.dossier_code,
            "channel": r.channel,
            "recipient": r.recipient,
            "subject": r.subject,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": r.created_at.isoformat(),
            "sent_at": r.sent_at.isoformat() if r.sent_at else None,
        }
        for r in rows
    ]


def requeue_notification(dispatcher: Any, record: Callable[..., Any], person: Any, notification_id: str) -> None:
    """After the cause is fixed (gateway, address): a failed notification gets fresh attempts, recorded."""
    if not dispatcher.requeue(notification_id):
        raise NotFound("Không có thông báo lỗi với mã này.", "No failed notification with this id.")
    record("notification.requeued", person.username, None, notification_id=notification_id)
