"""Reads for the reports over a period: the dossiers the QĐ 766 statistics count (with their payments,
documents, rating and handling events) and the dossiers an agency received (its tracking register, Mẫu 06)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, or_, select

from dossiers.model import DossierStatus, Role
from dossiers.statistics import (
    DIGITISED_INPUT_KIND,
    ELECTRONIC_RESULT_KIND,
    DocumentRecord,
    DossierRecord,
    HandlingEvent,
    PaymentRecord,
    Period,
    RatingRecord,
    handling_department,
)
from persistence.schema import app_user, audit_log, document, dossier, payment, rating

HANDLING_EVENTS = ("task.claimed", "task.completed")
_CHUNK = 500  # codes per IN (...) list: SQLite allows 32766 variables, PostgreSQL 65535; stay far below


def _chunks(codes: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(codes), _CHUNK):
        yield codes[i : i + _CHUNK]


def statistics_records(
    conn: Connection, period: Period, agency_codes: Collection[str] | None = None
) -> list[DossierRecord]:
    """Every dossier that can count in ``period``: received before its end and not finished before its start,
    or rated during it; restricted to ``agency_codes`` when given."""
    start, end = period.start, period.end
    rated_in_period = select(rating.c.dossier_code).where(rating.c.rated_at >= start, rating.c.rated_at < end)
    query = select(dossier).where(
        dossier.c.accepted_at.is_not(None),  # an online dossier counts once reception accepted it
        dossier.c.received_at < end,
        or_(dossier.c.finished_at.is_(None), dossier.c.finished_at >= start, dossier.c.code.in_(rated_in_period)),
    )
    if agency_codes is not None:
        query = query.where(dossier.c.agency_code.in_(sorted(agency_codes)))
    payments: dict[str, list[PaymentRecord]] = defaultdict(list)
    documents: dict[str, list[DocumentRecord]] = defaultdict(list)
    ratings: dict[str, RatingRecord] = {}
    handling: dict[str, list[HandlingEvent]] = defaultdict(list)
    rows = conn.execute(query.order_by(dossier.c.code)).all()
    codes = [r.code for r in rows]
    for chunk in _chunks(codes):
        for p in conn.execute(
            select(payment.c.dossier_code, payment.c.online, payment.c.status, payment.c.paid_at).where(
                payment.c.dossier_code.in_(chunk)
            )
        ):
            payments[p.dossier_code].append(PaymentRecord(bool(p.online), p.status, p.paid_at))
        for d in conn.execute(
            select(document.c.dossier_code, document.c.kind, document.c.created_at).where(
                document.c.dossier_code.in_(chunk),
                document.c.kind.in_((DIGITISED_INPUT_KIND, ELECTRONIC_RESULT_KIND)),
            )
        ):
            documents[d.dossier_code].append(DocumentRecord(d.kind, d.created_at))
        for g in conn.execute(
            select(rating.c.dossier_code, rating.c.level, rating.c.rated_at).where(rating.c.dossier_code.in_(chunk))
        ):
            ratings[g.dossier_code] = RatingRecord(g.level, g.rated_at)
        for e in conn.execute(
            select(
                audit_log.c.dossier_code,
                audit_log.c.at,
                audit_log.c.details,
                app_user.c.role,
                app_user.c.department_code,
            )
            .join(app_user, app_user.c.username == audit_log.c.actor)
            .where(
                audit_log.c.dossier_code.in_(chunk),
                audit_log.c.kind.in_(HANDLING_EVENTS),
                app_user.c.role == Role.SPECIALIST.value,
            )
        ):
            # the department recorded with the event (since it is recorded), else the official's current one
            department = (e.details or {}).get("department") or e.department_code
            handling[e.dossier_code].append(HandlingEvent(e.at, e.role, department))
    return [
        DossierRecord(
            code=r.code,
            agency_code=r.agency_code,
            procedure_code=r.procedure_code,
            department_code=handling_department(handling.get(r.code, ())),
            status=DossierStatus(r.status),
            channel=r.channel,
            return_channel=r.return_channel,
            received_at=r.received_at,
            due_at=r.due_at,
            finished_at=r.finished_at,
            paused_at=r.paused_at,
            payments=tuple(payments.get(r.code, ())),
            documents=tuple(documents.get(r.code, ())),
            rating=ratings.get(r.code),
        )
        for r in rows
    ]


def received_by_agency(conn: Connection, agency_code: str, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """The dossier rows the agency received (accepted) in ``[start, end)``, in the order they were received."""
    return list(
        conn.execute(
            select(dossier)
            .where(
                dossier.c.agency_code == agency_code,
                dossier.c.accepted_at.is_not(None),
                dossier.c.received_at >= start,
                dossier.c.received_at < end,
            )
            .order_by(dossier.c.received_at, dossier.c.code)
        ).all()
    )


def status_changes(conn: Connection, codes: Sequence[str]) -> list[Any]:
    """The ``dossier.status_changed`` entries (``dossier_code``, ``at``, ``details``) of the dossiers, in log
    order."""
    return list(
        conn.execute(
            select(audit_log.c.dossier_code, audit_log.c.at, audit_log.c.details)
            .where(audit_log.c.dossier_code.in_(codes), audit_log.c.kind == "dossier.status_changed")
            .order_by(audit_log.c.seq)
        ).all()
    )
