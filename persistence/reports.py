"""Reads for the reports over a period: the QĐ 766 statistics, counted by the database (one grouped query, not a
load of every dossier), and the dossiers an agency received (its tracking register, Mẫu 06)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Date, Integer, Select, Subquery, and_, case, func, literal, not_, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, ScalarSelect

from dossiers.calendar import VN_TZ
from dossiers.model import STOPPED_STATUSES, DossierStatus, Role
from dossiers.statistics import (
    COUNT_FIELDS,
    DIGITISED_INPUT_KIND,
    ELECTRONIC_RESULT_KIND,
    RATING_LEVELS,
    RESULT_STATUSES,
    UNASSIGNED,
    Group,
    GroupBy,
    Indicators,
    Period,
    Report,
)
from persistence.schema import app_user, audit_log, document, dossier, payment, rating

HANDLING_EVENTS = ("task.claimed", "task.completed")


class _VietnamDay(FunctionElement[dt.date]):
    """The calendar day in Vietnam of a naive-UTC timestamp column (``UTCDateTime``): the day
    :func:`dossiers.lifecycle.timeliness` compares. Vietnam keeps one offset all year, so it is a fixed shift."""

    type = Date()
    inherit_cache = True


_VN_HOURS = int((VN_TZ.utcoffset(None) or dt.timedelta()) / dt.timedelta(hours=1))


@compiles(_VietnamDay, "sqlite")
def _vietnam_day_sqlite(element: _VietnamDay, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '{_VN_HOURS:+d} hours')"


@compiles(_VietnamDay)
def _vietnam_day(element: _VietnamDay, compiler: Any, **kw: Any) -> str:  # PostgreSQL
    return f"CAST(({compiler.process(element.clauses, **kw)} + INTERVAL '{_VN_HOURS} hours') AS DATE)"


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _department_of_handler() -> ColumnElement[Any]:
    return func.coalesce(
        func.nullif(audit_log.c.details["department"].as_string(), ""), func.nullif(app_user.c.department_code, "")
    )


def _handling_department_lookup() -> ScalarSelect[Any]:
    """The same rule as :func:`_handling_departments` as a lookup per dossier, for SQLite: its probes of
    ``ix_audit_log_dossier_code`` are cheap in process, while it plans the ranked derived table badly (measured at
    20,000 dossiers: ≈ 1 s as a lookup, ≈ 40 s as the derived table)."""
    department = _department_of_handler()
    return (
        select(department)
        .select_from(audit_log.join(app_user, app_user.c.username == audit_log.c.actor))
        .where(
            audit_log.c.dossier_code == dossier.c.code,
            audit_log.c.kind.in_(HANDLING_EVENTS),
            app_user.c.role == Role.SPECIALIST.value,
            department.is_not(None),
        )
        .order_by(audit_log.c.at.desc(), audit_log.c.seq)
        .limit(1)
        .correlate(dossier)
        .scalar_subquery()
    )


def _handling_departments() -> Subquery:
    """:func:`dossiers.statistics.handling_department` of every handled dossier, computed once per dossier (a
    derived table joined by dossier, not a lookup per dossier): the department of the latest claim or completion
    by a specialist (the department recorded with the event, else the official's current one); among events at the
    same moment the first recorded, as the Python rule picked it (PostgreSQL: one sort of the handling events
    instead of a lookup per dossier)."""
    department = _department_of_handler()
    latest_first = func.row_number().over(
        partition_by=audit_log.c.dossier_code, order_by=(audit_log.c.at.desc(), audit_log.c.seq)
    )
    ranked = (
        select(audit_log.c.dossier_code, department.label("department"), latest_first.label("rank"))
        .select_from(audit_log.join(app_user, app_user.c.username == audit_log.c.actor))
        .where(
            audit_log.c.kind.in_(HANDLING_EVENTS),
            audit_log.c.dossier_code.is_not(None),
            app_user.c.role == Role.SPECIALIST.value,
            department.is_not(None),
        )
        .subquery("ranked")
    )
    return select(ranked.c.dossier_code, ranked.c.department).where(ranked.c.rank == 1).subquery("handling")


def statistics_query(
    period: Period, group_by: GroupBy, agency_codes: Collection[str] | None = None, dialect: str = "postgresql"
) -> Select[Any]:
    """The one grouped query of :func:`statistics_report` for ``dialect`` (apart, so a bench can EXPLAIN it): one row
    per group, ``key``, the sum of each count flag and ``rating_1`` … ``rating_5``."""
    start, end = period.start, period.end
    d = dossier.c
    rated_in_period = select(rating.c.dossier_code).where(rating.c.rated_at >= start, rating.c.rated_at < end)
    received = and_(d.received_at >= start, d.received_at < end)
    finished_in = and_(d.finished_at.is_not(None), d.finished_at >= start, d.finished_at < end)
    resolved = and_(finished_in, d.status.in_([s.value for s in RESULT_STATUSES]))
    late = and_(resolved, d.finished_at > d.due_at)
    early_day = _VietnamDay(d.finished_at) < _VietnamDay(d.due_at)
    in_progress = and_(d.received_at < end, or_(d.finished_at.is_(None), d.finished_at >= end))
    # paused for a supplement before the end and still paused: overdue only if it already was when the clock stopped
    paused_in_time = and_(d.paused_at.is_not(None), d.paused_at <= end, d.due_at > d.paused_at)
    # payments and documents by the end, one row per dossier each (derived tables joined by dossier: one pass
    # over each table instead of a lookup per dossier and flag)
    paid = (
        select(payment.c.dossier_code, func.max(_flag(payment.c.online.is_(True))).label("online"))
        .where(payment.c.status == "paid", payment.c.paid_at.is_not(None), payment.c.paid_at < end)
        .group_by(payment.c.dossier_code)
        .subquery("paid")
    )
    kinds = (DIGITISED_INPUT_KIND, ELECTRONIC_RESULT_KIND)
    documents = (
        select(
            document.c.dossier_code,
            *(func.max(_flag(document.c.kind == kind)).label(kind) for kind in kinds),
        )
        .where(document.c.kind.in_(kinds), document.c.created_at < end)
        .group_by(document.c.dossier_code)
        .subquery("documents")
    )
    joined = (
        dossier.outerjoin(rating, rating.c.dossier_code == d.code)
        .outerjoin(paid, paid.c.dossier_code == d.code)
        .outerjoin(documents, documents.c.dossier_code == d.code)
    )
    if group_by is GroupBy.AGENCY:
        key: ColumnElement[Any] = d.agency_code
    elif group_by is GroupBy.PROCEDURE:
        key = d.procedure_code
    elif dialect == "sqlite":
        key = func.coalesce(_handling_department_lookup(), UNASSIGNED)
    else:
        handling = _handling_departments()
        joined = joined.outerjoin(handling, handling.c.dossier_code == d.code)
        key = func.coalesce(handling.c.department, UNASSIGNED)
    flags: dict[str, ColumnElement[bool]] = {
        "carried_over": and_(d.received_at < start, or_(d.finished_at.is_(None), d.finished_at >= start)),
        "received": received,
        "received_online": and_(received, d.channel == "online"),
        "received_postal": and_(received, d.channel == "postal"),
        "received_counter": and_(received, d.channel.not_in(("online", "postal"))),
        "resolved": resolved,
        "early": and_(resolved, not_(late), early_day),
        "on_time": and_(resolved, not_(late), not_(early_day)),
        "late": late,
        "refused": and_(finished_in, d.status == DossierStatus.REFUSED.value),
        "withdrawn": and_(finished_in, d.status.in_([s.value for s in STOPPED_STATUSES])),
        "in_progress": in_progress,
        "overdue": and_(in_progress, d.due_at < end, not_(paused_in_time)),
        "returned_by_post": and_(resolved, d.return_channel == "postal"),
        "paid": and_(received, paid.c.dossier_code.is_not(None)),
        "paid_online": and_(received, paid.c.online == 1),
        "digitised_inputs": and_(received, or_(d.channel == "online", documents.c[DIGITISED_INPUT_KIND] == 1)),
        "electronic_results": and_(resolved, documents.c[ELECTRONIC_RESULT_KIND] == 1),
    }
    rated_level = case(
        (and_(rating.c.rated_at >= start, rating.c.rated_at < end), rating.c.level), else_=literal(None, Integer)
    )
    rows = (
        select(key.label("key"), *(_flag(c).label(name) for name, c in flags.items()), rated_level.label("rated"))
        .select_from(joined)
        .where(
            d.accepted_at.is_not(None),  # an online dossier counts once reception accepted it
            d.received_at < end,
            or_(d.finished_at.is_(None), d.finished_at >= start, d.code.in_(rated_in_period)),
        )
    )
    if agency_codes is not None:
        rows = rows.where(d.agency_code.in_(sorted(agency_codes)))
    one = rows.subquery()
    sums = select(
        one.c.key,
        *(func.sum(one.c[name]).label(name) for name in flags),
        *(func.sum(_flag(one.c.rated == level)).label(f"rating_{level}") for level in RATING_LEVELS),
    ).group_by(one.c.key)
    return sums


def statistics_report(
    conn: Connection, period: Period, group_by: GroupBy, agency_codes: Collection[str] | None = None
) -> Report:
    """The QĐ 766 indicators of ``period`` per group, counted by the database: one query that reads the dossiers
    that can count (received before the end and not finished before the start, or rated in the period; the
    indexes on ``received_at`` and ``finished_at``), turns each into the 0/1 flags of
    :func:`dossiers.statistics.indicators_of` and sums them per group. ``tests/integration/test_statistics_sql.py``
    holds it to the Python definitions over the same rows."""
    if conn.dialect.name == "postgresql":
        # for the rest of this (read-only) unit: measured at 1,000,000 dossiers (bench/statistics.py), compiling
        # the plan's expressions (JIT) cost up to 2 s and saved less; the per-dossier derived tables spill to disk
        # at the default 4 MB; parallel workers each rebuild every derived table's hash, which on two cores is
        # slower than one process doing it once
        for setting in ("jit = off", "work_mem = '64MB'", "max_parallel_workers_per_gather = 0"):
            conn.execute(text(f"SET LOCAL {setting}"))
    flags = COUNT_FIELDS
    groups = []
    for r in conn.execute(statistics_query(period, group_by, agency_codes, conn.dialect.name)):
        indicators = Indicators(
            **{name: int(r._mapping[name] or 0) for name in flags},
            ratings=tuple(int(r._mapping[f"rating_{level}"] or 0) for level in RATING_LEVELS),  # type: ignore[arg-type]
        )
        if indicators != Indicators():  # a group where nothing happened in the period is left out
            groups.append(Group(r.key, indicators))
    groups.sort(key=lambda g: g.key)
    total = sum((g.indicators for g in groups), Indicators())
    return Report(period, group_by, tuple(groups), total)


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
