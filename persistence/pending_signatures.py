"""Personal signatures waiting for the signer's device (``pending_signature``): the prepared PDF's state, who
signs which field, and, once done, the signed document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from persistence.schema import document, pending_signature


def id_for_key(conn: Connection, idempotency_key: str) -> str | None:
    """The id of the pending signature requested under ``idempotency_key`` (None when none was)."""
    row = conn.execute(
        select(pending_signature.c.id).where(pending_signature.c.idempotency_key == idempotency_key)
    ).first()
    return None if row is None else str(row.id)


def add(conn: Connection, **values: Any) -> None:
    """Store a prepared signature (``state``) waiting for the signer's device."""
    conn.execute(insert(pending_signature).values(**values))


def find(conn: Connection, pending_id: str) -> Any:
    """The pending signature ``pending_id`` (None when there is none)."""
    return conn.execute(select(pending_signature).where(pending_signature.c.id == pending_id)).first()


def waiting_for(conn: Connection, signer: str) -> list[Any]:
    """The signer's signatures not made yet, oldest first."""
    return list(
        conn.execute(
            select(pending_signature)
            .where(pending_signature.c.signer == signer, pending_signature.c.completed_at.is_(None))
            .order_by(pending_signature.c.created_at)
        ).all()
    )


def completed_at(conn: Connection, pending_id: str) -> dt.datetime | None:
    """When the pending signature (which must exist) was made; None while it waits."""
    completed: dt.datetime | None = (
        conn.execute(select(pending_signature.c.completed_at).where(pending_signature.c.id == pending_id))
        .one()
        .completed_at
    )
    return completed


def complete(conn: Connection, pending_id: str, at: dt.datetime, document_id: str) -> None:
    """Mark the signature made, with the document that holds it. The prepared state (the whole PDF with its
    placeholder, ~100 KB) is dropped: the signed document is in the object store and nothing reads the state of
    a finished signature (it was three quarters of a grown database)."""
    conn.execute(
        update(pending_signature)
        .where(pending_signature.c.id == pending_id)
        .values(completed_at=at, document_id=document_id, state="")
    )


def signed_document(conn: Connection, pending_id: str) -> Any:
    """The document row the completed signature produced (None while it waits)."""
    return conn.execute(
        select(document)
        .join(pending_signature, pending_signature.c.document_id == document.c.id)
        .where(pending_signature.c.id == pending_id)
    ).first()


def completed_id(conn: Connection, dossier_code: str, document_kind: str) -> str | None:
    """The id of a completed pending signature of the dossier's ``document_kind`` (None when none is made)."""
    row = conn.execute(
        select(pending_signature.c.id).where(
            pending_signature.c.dossier_code == dossier_code,
            pending_signature.c.document_kind == document_kind,
            pending_signature.c.completed_at.is_not(None),
        )
    ).first()
    return None if row is None else str(row.id)


def waiting_for_dossier(conn: Connection, dossier_code: str) -> list[Any]:
    """The dossier's signatures not made yet (whoever signs them), oldest first."""
    return list(
        conn.execute(
            select(pending_signature.c.id, pending_signature.c.signer, pending_signature.c.document_kind)
            .where(pending_signature.c.dossier_code == dossier_code, pending_signature.c.completed_at.is_(None))
            .order_by(pending_signature.c.created_at)
        ).all()
    )


def signed_without_document(conn: Connection, kinds: Sequence[str], key_suffix: str, since: dt.datetime) -> list[Any]:
    """Signatures of ``kinds`` completed from ``since`` whose final document is not stored yet: no document carries
    their idempotency key without ``key_suffix`` (a letter is stored under ``{key}`` once its head signed
    ``{key}{key_suffix}``). What a crash between the signature and the seal left to finish; read through
    ``ix_pending_signature_kind_completed`` and the documents' unique key."""
    final = document.alias("final")
    key = pending_signature.c.idempotency_key
    stored_under = func.substr(key, 1, func.length(key) - len(key_suffix))
    return list(
        conn.execute(
            select(pending_signature.c.id, pending_signature.c.dossier_code, pending_signature.c.document_kind)
            .outerjoin(final, final.c.idempotency_key == stored_under)
            .where(
                pending_signature.c.document_kind.in_(list(kinds)),
                pending_signature.c.completed_at >= since,
                final.c.id.is_(None),
            )
            .order_by(pending_signature.c.completed_at)
        ).all()
    )
