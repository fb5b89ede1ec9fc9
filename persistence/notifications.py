"""The ``notification`` table: the outbox of messages to citizens (one row per idempotency key), the queue the
dispatcher delivers it through (:mod:`persistence.outbox`) and what operators read of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from persistence import outbox as queues
from persistence.counters import upsert
from persistence.schema import notification


def add(conn: Connection, values: Mapping[str, Any]) -> str:
    """Insert the message unless its idempotency key is already queued; the id of the row that has the key."""
    conn.execute(upsert(conn, notification).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"]))
    found = conn.execute(
        select(notification.c.id).where(notification.c.idempotency_key == values["idempotency_key"])
    ).scalar_one()
    return str(found)


def queue(backoff: queues.Backoff, lease_seconds: float, max_attempts: int) -> queues.Queue:
    """The table as an outbox queue: a row is retried after ``sent_at``, the time its last attempt began."""
    return queues.Queue(
        notification,
        key="id",
        order_by="created_at",
        backoff=backoff,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
        started_column="sent_at",
    )


def newest(conn: Connection, *, status: str | None = None, dossier_code: str | None = None) -> list[Any]:
    """The newest 500 messages, of one status and/or one dossier when given."""
    query = select(notification).order_by(notification.c.created_at.desc()).limit(500)
    if status:
        query = query.where(notification.c.status == status)
    if dossier_code:
        query = query.where(notification.c.dossier_code == dossier_code)
    return list(conn.execute(query).all())
