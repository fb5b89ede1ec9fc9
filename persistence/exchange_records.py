"""The records of inter-agency exchange (DESIGN §9): the envelopes received from partners (``exchange_inbox``, with
the signed acknowledgment a replay gets back), the envelopes sent to them (``exchange_outbox``, delivered as an
outbox queue of :mod:`persistence.outbox`) and the receipts of in-process deliveries (``side_effect`` rows keyed by
message id). Who may send what is decided in :mod:`services.exchange` and :mod:`services.receiving`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert, select, update

from persistence import outbox as queues
from persistence.schema import exchange_inbox, exchange_outbox

MESSAGE_LIMIT = 500
"""How many envelopes of each direction operators see (newest first)."""

# ------------------------------------------------------------------ received (inbox)


def received(conn: Connection, message_id: str) -> Any | None:
    """The inbox row of ``message_id`` (its digest and acknowledgment), or None when it never came."""
    return conn.execute(select(exchange_inbox).where(exchange_inbox.c.message_id == message_id)).first()


def add_received(conn: Connection, **values: Any) -> None:
    conn.execute(insert(exchange_inbox).values(**values))


def accepted_from(conn: Connection, dossier_code: str, partner: str, local: str) -> bool:
    """``partner`` handed the dossier to the agency ``local`` here in an accepted envelope."""
    found = conn.execute(
        select(exchange_inbox.c.message_id)
        .where(
            exchange_inbox.c.dossier_code == dossier_code,
            exchange_inbox.c.sender_agency == partner,
            exchange_inbox.c.receiver_agency == local,
            exchange_inbox.c.status == "accepted",
        )
        .limit(1)
    ).first()
    return found is not None


def received_newest(conn: Connection, dossier_code: str | None = None) -> list[Any]:
    query = select(exchange_inbox).order_by(exchange_inbox.c.received_at.desc()).limit(MESSAGE_LIMIT)
    if dossier_code:
        query = query.where(exchange_inbox.c.dossier_code == dossier_code)
    return list(conn.execute(query).all())


# ------------------------------------------------------------------ sent (outbox)


def sent(conn: Connection, message_id: str) -> Any | None:
    """The outbox row of ``message_id``, or None when it was never queued."""
    return conn.execute(select(exchange_outbox).where(exchange_outbox.c.message_id == message_id)).first()


def sent_one(conn: Connection, message_id: str) -> Any:
    """The outbox row of ``message_id``, which exists (queued in this transaction, or claimed)."""
    return conn.execute(select(exchange_outbox).where(exchange_outbox.c.message_id == message_id)).one()


def sent_to(conn: Connection, dossier_code: str, partner: str, local: str) -> bool:
    """The agency ``local`` here sent the dossier to ``partner``."""
    found = conn.execute(
        select(exchange_outbox.c.message_id)
        .where(
            exchange_outbox.c.dossier_code == dossier_code,
            exchange_outbox.c.receiver_agency == partner,
            exchange_outbox.c.sender_agency == local,
        )
        .limit(1)
    ).first()
    return found is not None


def sent_manifest(conn: Connection, message_id: str, dossier_code: str, partner: str, local: str) -> bytes | None:
    """The manifest of the envelope ``message_id`` that ``local`` sent ``partner`` about the dossier, or None."""
    found = conn.execute(
        select(exchange_outbox.c.manifest).where(
            exchange_outbox.c.message_id == message_id,
            exchange_outbox.c.dossier_code == dossier_code,
            exchange_outbox.c.receiver_agency == partner,
            exchange_outbox.c.sender_agency == local,
        )
    ).first()
    return None if found is None else bytes(found.manifest)


def add_sent(conn: Connection, **values: Any) -> None:
    conn.execute(insert(exchange_outbox).values(**values))


def retry_sent_at(conn: Connection, message_id: str, at: dt.datetime) -> None:
    """The envelope is due again at ``at`` (an operator asked for it)."""
    conn.execute(update(exchange_outbox).where(exchange_outbox.c.message_id == message_id).values(next_attempt_at=at))


def sent_newest(conn: Connection, dossier_code: str | None = None) -> list[Any]:
    query = select(exchange_outbox).order_by(exchange_outbox.c.created_at.desc()).limit(MESSAGE_LIMIT)
    if dossier_code:
        query = query.where(exchange_outbox.c.dossier_code == dossier_code)
    return list(conn.execute(query).all())


def outbox_queue(backoff: queues.Backoff, lease_seconds: float) -> queues.Queue:
    """The outbox as a queue: due at ``next_attempt_at``, which a claim moves past the lease."""
    return queues.Queue(
        exchange_outbox,
        key="message_id",
        order_by="next_attempt_at",
        backoff=backoff,
        lease_seconds=lease_seconds,
        next_attempt_column="next_attempt_at",
    )


# ------------------------------------------------------------------ delivered in-process
