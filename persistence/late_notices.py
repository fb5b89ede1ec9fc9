"""The ``late_notice`` rows (one per dossier at risk of being late, DESIGN §6 "Late") and the dossier rows they
are about: which dossiers still need one, the notices an official sees, and the apology that moves the due date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from persistence.counters import upsert
from persistence.schema import dossier, late_notice


def dossiers_without_notice(conn: Connection, status: str, due_by: dt.datetime) -> list[Any]:
    """The dossiers of ``status`` due by ``due_by`` that have no late notice yet, soonest due first."""
    return list(
        conn.execute(
            select(dossier)
            .where(
                dossier.c.status == status,
                dossier.c.due_at <= due_by,
                ~select(late_notice.c.id).where(late_notice.c.dossier_code == dossier.c.code).exists(),
            )
            .order_by(dossier.c.due_at)
        ).all()
    )


def open_notice(conn: Connection, values: Mapping[str, Any]) -> bool:
    """Insert the notice unless the dossier has one; False when another process opened it first."""
    stmt = upsert(conn, late_notice).values(**values).on_conflict_do_nothing(index_elements=["dossier_code"])
    result = conn.execute(stmt)
    return bool(result.rowcount == 1)


def notices(conn: Connection, *, status: str | None, agency_code: str | None, every_agency: bool) -> list[Any]:
    """The notices of ``status`` (any when not given) and of ``agency_code`` (unless ``every_agency``), oldest due
    date first."""
    query = select(late_notice)
    if status:
        query = query.where(late_notice.c.status == status)
    if not every_agency:
        query = query.where(late_notice.c.agency_code == agency_code)
    return list(conn.execute(query.order_by(late_notice.c.old_due_at)).all())


def notice(conn: Connection, notice_id: str) -> Any | None:
    return conn.execute(select(late_notice).where(late_notice.c.id == notice_id)).first()


def mark_issued(conn: Connection, notice_id: str, **values: Any) -> bool:
    """The open notice becomes ``issued`` with ``values``; False when it is no longer open (issued just now)."""
    result = conn.execute(
        update(late_notice)
        .where(late_notice.c.id == notice_id, late_notice.c.status == "open")
        .values(status="issued", **values)
    )
    return bool(result.rowcount == 1)


def move_due_date(conn: Connection, dossier_code: str, due_at: dt.datetime, at: dt.datetime) -> None:
    """The dossier's new appointment (the original stays in the notice's ``old_due_at``)."""
    conn.execute(update(dossier).where(dossier.c.code == dossier_code).values(due_at=due_at, updated_at=at))
