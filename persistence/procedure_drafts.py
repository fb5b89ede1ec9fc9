"""The procedure designer's drafts (``procedure_draft``: one per code, its parts as JSON) and publications
(``procedure_publication``): in the database so every API process sees the same draft."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from persistence.schema import procedure_draft, procedure_publication


def find(conn: Connection, code: str) -> Any:
    """The draft row of ``code`` (code, parts, origin, saved_by, saved_at), or None."""
    return conn.execute(select(procedure_draft).where(procedure_draft.c.code == code)).first()


def codes(conn: Connection) -> set[str]:
    return set(conn.execute(select(procedure_draft.c.code)).scalars())


def all_rows(conn: Connection) -> list[Any]:
    return list(conn.execute(select(procedure_draft).order_by(procedure_draft.c.code)))


def save(
    conn: Connection, code: str, parts: Mapping[str, Any], origin: str, saved_by: str, saved_at: dt.datetime
) -> None:
    """Insert or replace the draft of ``code`` (its origin is kept once set)."""
    values = {"parts": dict(parts), "saved_by": saved_by, "saved_at": saved_at}
    if find(conn, code) is None:
        conn.execute(insert(procedure_draft).values(code=code, origin=origin, **values))
    else:
        conn.execute(update(procedure_draft).where(procedure_draft.c.code == code).values(**values))


def remove(conn: Connection, code: str) -> bool:
    """Delete the draft; False when there was none."""
    return conn.execute(delete(procedure_draft).where(procedure_draft.c.code == code)).rowcount > 0


def add_publication(
    conn: Connection,
    code: str,
    valid_from: dt.date,
    published_by: str,
    published_at: dt.datetime,
    process_key: str,
    deployed: list[str],
    bpmn_sha256: str,
) -> None:
    conn.execute(
        insert(procedure_publication).values(
            code=code,
            valid_from=valid_from,
            published_by=published_by,
            published_at=published_at,
            process_key=process_key,
            deployed=list(deployed),
            bpmn_sha256=bpmn_sha256,
        )
    )


def publications(conn: Connection, code: str) -> list[Any]:
    """The publications of ``code``, oldest first."""
    return list(
        conn.execute(
            select(procedure_publication)
            .where(procedure_publication.c.code == code)
            .order_by(procedure_publication.c.id)
        )
    )
