"""Reads of stored documents (``document``) by kind, for those who may see only some kinds — the public links
open a result or a refusal, never a scan or an uploaded paper — and the whole list the store check walks.
(:mod:`persistence.dossier_records` keeps a dossier's documents for the one-stop shop.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from persistence.schema import document


def find_document_of_kinds(conn: Connection, code: str, doc_id: str, kinds: Sequence[str]) -> Any:
    """The document ``doc_id`` of dossier ``code`` if it is of one of ``kinds`` (None otherwise)."""
    return conn.execute(
        select(document).where(document.c.id == doc_id, document.c.dossier_code == code, document.c.kind.in_(kinds))
    ).first()


def newest_of_kinds(conn: Connection, code: str, kinds: Sequence[str]) -> Any:
    """``id``, ``filename``, ``kind`` and ``sha256`` of the dossier's newest document of one of ``kinds`` (None
    when it has none)."""
    return conn.execute(
        select(document.c.id, document.c.filename, document.c.kind, document.c.sha256)
        .where(document.c.dossier_code == code, document.c.kind.in_(kinds))
        .order_by(document.c.created_at.desc())
    ).first()


def every_document(conn: Connection) -> list[Any]:
    """Every document row, oldest first."""
    return list(conn.execute(select(document).order_by(document.c.created_at, document.c.id)).all())
