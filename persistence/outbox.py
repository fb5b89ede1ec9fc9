"""One outbox mechanism for the messages sent after the business transaction commits (notifications to citizens,
signed envelopes to partner installations): two queues, one code path.

A use case writes its row in the caller's unit of work; housekeeping (in every process that runs it) delivers the
due rows afterwards:

* :func:`claim_next` takes one due row: it is selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one
  writer, ``BEGIN IMMEDIATE``) and leased in the same transaction by an update that holds only while the row is
  still due, so two processes never send the same row;
* :func:`record_failure` counts the attempt, keeps the error and waits :class:`Backoff` seconds, doubling up to a
  cap; after the queue's ``max_attempts`` (when it has one) the row is ``failed``, kept for an operator
  (:func:`requeue`);
* :func:`record_delivery` counts the attempt and gives the row its final status.

The two tables keep the retry time differently (no schema change): the envelope outbox has ``next_attempt_at``,
which a claim moves past the lease; the notification table has only ``sent_at``, when the last attempt began, so
a claim sets the status ``sending`` and a row is due ``backoff(attempts)`` after ``sent_at``; a ``sending`` row
older than the lease (its process died mid-attempt) is given back by :func:`release_stale`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy import Engine as SqlEngine

from persistence.uow import transaction

PENDING = "pending"
SENDING = "sending"
FAILED = "failed"
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Backoff:
    """Seconds before the next attempt: ``first_seconds`` after the first failure, doubling, at most ``max_seconds``."""

    first_seconds: float
    max_seconds: float | None = None

    def after(self, attempts: int) -> float:
        delay = self.first_seconds * 2 ** max(0, attempts - 1)
        return float(delay if self.max_seconds is None else min(delay, self.max_seconds))

    def steps(self, max_attempts: int | None) -> int:
        """How many distinct delays there are: past it, every delay is the last one."""
        if max_attempts is not None:
            return max(1, max_attempts)
        step = 1
        while step < 64 and self.after(step) < self.after(step + 1):
            step += 1
        return step


@dataclass(frozen=True)
class Queue:
    """One outbox table and where it keeps each row's delivery state (see the module docstring).

    Exactly one of ``next_attempt_column`` (the time the row is due again) and ``started_column`` (the time its
    last attempt began) is given."""

    table: Table
    key: str
    order_by: str
    backoff: Backoff
    lease_seconds: float
    max_attempts: int | None = None
    next_attempt_column: str | None = None
    started_column: str | None = None

    def __post_init__(self) -> None:
        if (self.next_attempt_column is None) == (self.started_column is None):
            raise ValueError("an outbox queue keeps either the next attempt's time or the last attempt's start")

    def column(self, name: str) -> Any:
        return self.table.c[name]

    def due(self, now: dt.datetime) -> ColumnElement[bool]:
        """Pending and its (re)try time has come."""
        pending = self.column("status") == PENDING
        if self.next_attempt_column is not None:
            return and_(pending, self.column(self.next_attempt_column) <= now)
        started, attempts = self.column(self.started_column or ""), self.column("attempts")
        last = self.backoff.steps(self.max_attempts)
        waited = [
            and_(attempts == n, started <= now - dt.timedelta(seconds=self.backoff.after(n))) for n in range(1, last)
        ]
        waited.append(and_(attempts >= last, started <= now - dt.timedelta(seconds=self.backoff.after(last))))
        return and_(pending, or_(attempts == 0, started.is_(None), *waited))

    def lease(self, now: dt.datetime) -> dict[str, Any]:
        """The values that make a claimed row nobody else's until it is done or the lease runs out."""
        if self.next_attempt_column is not None:
            return {self.next_attempt_column: now + dt.timedelta(seconds=self.lease_seconds)}
        return {"status": SENDING, self.started_column or "": now}


def claim(db: SqlEngine, queue: Queue, key: Any, now: dt.datetime) -> bool:
    """Lease the row ``key`` if it is due; False when another process took it (or it is not due)."""
    with transaction(db) as conn:
        result = conn.execute(
            update(queue.table).where(queue.column(queue.key) == key, queue.due(now)).values(**queue.lease(now))
        )
    return result.rowcount == 1


def claim_next(db: SqlEngine, queue: Queue, now: dt.datetime, skip: Collection[Any] = ()) -> Any | None:
    """The oldest due row (not in ``skip``), leased to the caller; None when nothing is due."""
    with transaction(db) as conn:
        query = select(queue.table).where(queue.due(now))
        if skip:
            query = query.where(queue.column(queue.key).not_in(list(skip)))
        row = conn.execute(
            query.order_by(queue.column(queue.order_by)).limit(1).with_for_update(skip_locked=True)
        ).first()
        if row is None or not claim(db, queue, getattr(row, queue.key), now):
            return None
    return row


def record_failure(db: SqlEngine, queue: Queue, key: Any, attempt: int, error: str, at: dt.datetime) -> str:
    """Attempt number ``attempt`` failed at ``at`` (the time the backoff counts from): ``pending`` again after the
    backoff, or ``failed`` after the queue's last attempt. Returns the status."""
    status = FAILED if queue.max_attempts is not None and attempt >= queue.max_attempts else PENDING
    values: dict[str, Any] = {"status": status, "attempts": attempt, "last_error": error[:MAX_ERROR_CHARS]}
    if queue.next_attempt_column is not None:
        values[queue.next_attempt_column] = at + dt.timedelta(seconds=queue.backoff.after(attempt))
    else:
        values[queue.started_column or ""] = at
    with transaction(db) as conn:
        conn.execute(update(queue.table).where(queue.column(queue.key) == key).values(**values))
    return status


def record_delivery(db: SqlEngine, queue: Queue, key: Any, attempt: int, status: str, **values: Any) -> None:
    """Attempt number ``attempt`` was answered: the row's final ``status`` and whatever else the queue keeps."""
    with transaction(db) as conn:
        conn.execute(
            update(queue.table).where(queue.column(queue.key) == key).values(status=status, attempts=attempt, **values)
        )


def release_stale(db: SqlEngine, queue: Queue, now: dt.datetime) -> int:
    """Rows whose attempt began more than the lease ago and never finished go back to the queue; returns how many.
    (A queue with a next-attempt time needs nothing: the lease running out makes the row due again.)"""
    if queue.started_column is None:
        return 0
    cutoff = now - dt.timedelta(seconds=queue.lease_seconds)
    with transaction(db) as conn:
        result = conn.execute(
            update(queue.table)
            .where(queue.column("status") == SENDING, queue.column(queue.started_column) < cutoff)
            .values(status=PENDING, last_error="interrupted during delivery (dispatcher stopped)")
        )
    return int(result.rowcount or 0)


def requeue(db: SqlEngine, queue: Queue, key: Any, now: dt.datetime) -> bool:
    """A failed row gets a fresh set of attempts, due at once (an operator fixed the cause)."""
    values: dict[str, Any] = {"status": PENDING, "attempts": 0}
    if queue.next_attempt_column is not None:
        values[queue.next_attempt_column] = now
    else:
        values[queue.started_column or ""] = None
    with transaction(db) as conn:
        result = conn.execute(
            update(queue.table).where(queue.column(queue.key) == key, queue.column("status") == FAILED).values(**values)
        )
    return result.rowcount == 1
