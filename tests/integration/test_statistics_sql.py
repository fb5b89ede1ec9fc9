"""The statistics counted by the database (persistence.reports.statistics_report) give exactly the figures of the
QĐ 766 definitions in Python (dossiers.statistics.compute) over the same rows, on SQLite and on PostgreSQL: a
population of dossiers in every state, month, channel and procedure, with payments, documents, ratings and
handling events, and the edges of each rule (the Vietnamese day of a deadline, a clock stopped for a supplement,
claims at the same moment by two departments, an online dossier not accepted yet).

The reference below is how the report was computed before issue 17 (every row loaded into Python); it lives here
only, as the yardstick of the query."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert, or_, select

from dossiers.calendar import VN_TZ
from dossiers.model import DossierStatus, Role
from dossiers.ports import AuditEvent
from dossiers.statistics import (
    COUNT_FIELDS,
    DIGITISED_INPUT_KIND,
    ELECTRONIC_RESULT_KIND,
    DocumentRecord,
    DossierRecord,
    GroupBy,
    HandlingEvent,
    PaymentRecord,
    Period,
    RatingRecord,
    Report,
    compute,
    handling_department,
)
from persistence.audit_log import SqlAuditLog
from persistence.reports import HANDLING_EVENTS, statistics_report
from persistence.schema import app_user, audit_log, document, dossier, metadata, payment, procedure, rating
from persistence.uow import make_engine, transaction
from tests.integration.postgres import PostgresCluster

pytestmark = pytest.mark.integration

AGENCIES = ("A1", "A2", "A3")
PROCEDURES = ("P1", "P2", "P3")
# specialists of two departments, one without a department, and a leader (not a handler)
USERS = (
    ("cv.pkt", Role.SPECIALIST, "D-PKT"),
    ("cv.tp", Role.SPECIALIST, "D-TP"),
    ("cv.none", Role.SPECIALIST, None),
    ("ld", Role.LEADER, "D-LD"),
)
S = DossierStatus
OPEN = (S.RECEIVED, S.IN_PROGRESS, S.SUPPLEMENT_REQUESTED)
FINISHED = (S.RESULT_READY, S.RETURNED, S.REFUSED, S.WITHDRAWN)


def vn(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, s, tzinfo=VN_TZ)


_CHUNK = 500


def _chunks(codes: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(codes), _CHUNK):
        yield codes[i : i + _CHUNK]


def reference_records(
    conn: Connection, period: Period, agency_codes: Collection[str] | None = None
) -> list[DossierRecord]:
    """Every dossier that can count in ``period``, loaded with its payments, documents, rating and handling events:
    the loader the statistics used before they were counted in SQL, as it was."""
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
            # the one change to the loader as it was: it read the events in no stated order, so between events at
            # the same moment the plan chose (SQLite read them by kind and actor); the first recorded wins now
            .order_by(audit_log.c.seq)
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


# ------------------------------------------------------------------ the population


def _dossier(code: str, received: dt.datetime, due: dt.datetime, status: S, **kw: object) -> dict[str, object]:
    return {
        "code": code,
        "procedure_code": kw.pop("procedure_code", "P1"),
        "agency_code": kw.pop("agency_code", "A1"),
        "structure_version": "2025",
        "status": status.value,
        "applicant_name": "Nguyễn Văn An",
        "applicant_id_number": "001090012345",
        "channel": kw.pop("channel", "counter"),
        "received_at": received,
        "clock_start": received,
        "due_at": due,
        "accepted_at": kw.pop("accepted_at", received),
        "received_by": "tiepnhan",
        "updated_at": received,
        "return_channel": kw.pop("return_channel", "counter"),
        "finished_at": kw.pop("finished_at", None),
        "paused_at": kw.pop("paused_at", None),
        **kw,
    }


def populate(db: Engine, count: int = 400, seed: int = 17) -> None:
    """``count`` random dossiers over 2025–2026 plus the hand-made edges; every handling event through the audit
    log (hash-chained, as the application writes it)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    pays: list[dict[str, object]] = []
    docs: list[dict[str, object]] = []
    rates: list[dict[str, object]] = []
    events: list[AuditEvent] = []
    first = vn(2025, 1, 1)
    for n in range(count):
        code = f"R{n:04d}"
        received = first + dt.timedelta(minutes=rng.randrange(0, 600 * 24 * 60))
        due = received + dt.timedelta(days=rng.choice((1, 3, 5, 10, 15)), hours=rng.randrange(0, 24))
        status = rng.choice(OPEN + FINISHED + (S.RETURNED, S.RESULT_READY))
        extra: dict[str, object] = {
            "procedure_code": rng.choice(PROCEDURES),
            "agency_code": rng.choice(AGENCIES),
            "channel": rng.choice(("counter", "counter", "online", "postal")),
            "return_channel": rng.choice(("counter", "postal", "online")),
        }
        finished = None
        if status in FINISHED:
            # around the due moment: early, on the due day before or after the moment, late
            finished = due + dt.timedelta(hours=rng.choice((-72, -30, -20, -5, -1, 0, 1, 5, 30, 200)))
            finished = max(finished, received + dt.timedelta(minutes=5))
            extra["finished_at"] = finished
        if status == S.SUPPLEMENT_REQUESTED or (status in OPEN and rng.random() < 0.2):
            extra["paused_at"] = received + dt.timedelta(days=rng.choice((0, 2, 7, 20)))
        rows.append(_dossier(code, received, due, status, **extra))
        for k in range(rng.choice((0, 0, 1, 2))):
            paid_status = rng.choice(("paid", "paid", "pending", "failed", "refunded"))
            pays.append(
                {
                    "id": f"{code}-pay{k}",
                    "dossier_code": code,
                    "amount_vnd": 50_000,
                    "method": "gateway" if k else "cash",
                    "online": rng.random() < 0.5,
                    "reference": f"{code}-{k}",
                    "status": paid_status,
                    "created_at": received,
                    "paid_at": received + dt.timedelta(days=rng.choice((0, 3, 40)))
                    if paid_status in ("paid", "refunded")
                    else None,
                    "recorded_by": "tiepnhan",
                }
            )
        for k, kind in enumerate(rng.sample((DIGITISED_INPUT_KIND, ELECTRONIC_RESULT_KIND, "upload"), k=2)):
            docs.append(_document(f"{code}-doc{k}", code, kind, received + dt.timedelta(days=rng.choice((0, 5, 45)))))
        if finished is not None and status in (S.RESULT_READY, S.RETURNED) and rng.random() < 0.6:
            rates.append(
                {
                    "dossier_code": code,
                    "level": rng.randint(1, 5),
                    "rated_at": finished + dt.timedelta(days=rng.choice((0, 2, 35, 90))),
                }
            )
        for _ in range(rng.choice((0, 1, 2, 3))):
            actor = rng.choice([u[0] for u in USERS])
            at = received + dt.timedelta(hours=rng.choice((1, 2, 2, 30)))  # the same moment twice, now and then
            details: dict[str, object] = {}
            if rng.random() < 0.4:
                details["department"] = rng.choice(("D-OTHER", ""))
            events.append(AuditEvent(rng.choice(HANDLING_EVENTS), actor, at, code, details))
    rows, docs, events = _edges(rows, docs, events)
    with transaction(db) as conn:
        conn.execute(
            insert(procedure),
            [
                {"code": p, "name": p, "process_key": "p", "time_limit_days": 5, "working_days": True, "data": {}}
                for p in PROCEDURES
            ],
        )
        conn.execute(
            insert(app_user),
            [
                {
                    "username": u,
                    "full_name": u,
                    "password_hash": "x",
                    "role": role.value,
                    "agency_code": "A1",
                    "department_code": department,
                    "active": True,
                    "created_at": first,
                }
                for u, role, department in USERS
            ],
        )
        conn.execute(insert(dossier), rows)
        for table, values in ((payment, pays), (document, docs), (rating, rates)):
            if values:
                conn.execute(insert(table), values)
    SqlAuditLog(db).append_many(events)


def _document(doc_id: str, code: str, kind: str, created: dt.datetime) -> dict[str, object]:
    return {
        "id": doc_id,
        "dossier_code": code,
        "kind": kind,
        "filename": "giay.pdf",
        "content_type": "application/pdf",
        "size": 1,
        "sha256": "0" * 64,
        "storage_key": f"k/{doc_id}",
        "created_by": "tiepnhan",
        "created_at": created,
    }


def _edges(
    rows: list[dict[str, object]], docs: list[dict[str, object]], events: list[AuditEvent]
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[AuditEvent]]:
    """The edges of the rules, in March 2026: the Vietnamese day of a deadline (a result at 23:59 the evening before
    the due day is early, at 00:00 on it on time), the due moment itself, a clock stopped before and after the
    deadline, an online dossier waiting in the reception queue, a period bound hit exactly, two departments'
    claims at one moment."""
    due = vn(2026, 3, 10, 17)
    rows += [
        _dossier("E-early", vn(2026, 3, 2, 8), due, S.RESULT_READY, finished_at=vn(2026, 3, 9, 23, 59, 59)),
        _dossier("E-ontime-day", vn(2026, 3, 2, 8), due, S.RETURNED, finished_at=vn(2026, 3, 10, 0, 0)),
        _dossier("E-ontime-moment", vn(2026, 3, 2, 8), due, S.RETURNED, finished_at=due),
        _dossier("E-late", vn(2026, 3, 2, 8), due, S.RETURNED, finished_at=due + dt.timedelta(microseconds=1)),
        _dossier("E-paused-in-time", vn(2026, 3, 2, 8), due, S.SUPPLEMENT_REQUESTED, paused_at=vn(2026, 3, 5)),
        _dossier("E-paused-late", vn(2026, 3, 2, 8), due, S.SUPPLEMENT_REQUESTED, paused_at=vn(2026, 3, 12)),
        _dossier("E-queue", vn(2026, 3, 2, 8), due, S.SUBMITTED, channel="online", accepted_at=None),
        _dossier("E-start", vn(2026, 3, 1), due, S.RECEIVED, procedure_code="P2"),
        _dossier("E-end", vn(2026, 4, 1), vn(2026, 4, 5), S.RECEIVED, procedure_code="P2"),
        _dossier("E-fin-at-start", vn(2026, 2, 1), due, S.REFUSED, finished_at=vn(2026, 3, 1)),
        _dossier("E-tie", vn(2026, 3, 2, 8), due, S.IN_PROGRESS, agency_code="A2"),
    ]
    docs.append(_document("E-early-result", "E-early", ELECTRONIC_RESULT_KIND, vn(2026, 3, 9, 23)))
    tie = vn(2026, 3, 3, 9)
    events += [
        AuditEvent("task.claimed", "cv.tp", tie, "E-tie", {}),
        AuditEvent("task.completed", "cv.pkt", tie, "E-tie", {}),
        AuditEvent("task.completed", "cv.none", vn(2026, 3, 4), "E-tie", {}),  # no department: not a handler
    ]
    return rows, docs, events


PERIODS = {
    "March 2026": Period(vn(2026, 3, 1), vn(2026, 4, 1)),
    "one day": Period(vn(2026, 3, 10), vn(2026, 3, 11)),
    "a quarter": Period(vn(2025, 10, 1), vn(2026, 1, 1)),
    "the year 2025": Period(vn(2025, 1, 1), vn(2026, 1, 1)),
    "eighteen months": Period(vn(2025, 1, 1), vn(2026, 7, 1)),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def populated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        db = make_engine(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
        name = None
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.fresh_database()
        name = url.rsplit("/", 1)[1]
        db = make_engine(url)
    try:
        metadata.create_all(db)
        populate(db)
        yield db
    finally:
        db.dispose()
        if name is not None:
            cluster.drop_database(name)


def _compare(db: Engine, period: Period, group_by: GroupBy, agencies: Collection[str] | None) -> Report:
    with transaction(db, read_only=True) as conn:
        counted = statistics_report(conn, period, group_by, agencies)
        expected = compute(reference_records(conn, period, agencies), period, group_by)
    assert counted == expected
    return counted


def test_the_database_counts_every_figure_the_python_rules_give(populated: Engine) -> None:
    for label, period in PERIODS.items():
        for group_by in GroupBy:
            for agencies in (None, {"A1"}, {"A2", "A3"}):
                report = _compare(populated, period, group_by, agencies)
                assert report.groups, (label, group_by, agencies)
    # the population is not trivial: every figure is non-zero in some period
    totals = [_compare(populated, period, GroupBy.AGENCY, None).total for period in PERIODS.values()]
    for name in COUNT_FIELDS:
        assert any(getattr(total, name) for total in totals), name
    assert all(any(total.ratings[i] for total in totals) for i in range(5))


def test_the_edges_of_the_rules_land_where_the_definitions_say(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'edges.sqlite3'}")
    metadata.create_all(db)
    populate(db, count=0)  # the hand-made dossiers only
    with transaction(db, read_only=True) as conn:
        march = statistics_report(conn, PERIODS["March 2026"], GroupBy.PROCEDURE)
        by_agency = statistics_report(conn, PERIODS["March 2026"], GroupBy.AGENCY)
        day = statistics_report(conn, PERIODS["one day"], GroupBy.DEPARTMENT, {"A2"})
    db.dispose()
    assert [g.key for g in march.groups] == ["P1", "P2"]
    p1, p2 = (g.indicators for g in march.groups)
    # refused at the first moment of March: carried over (not finished before the start) and refused in March
    assert (p1.carried_over, p1.refused, p1.received, p1.received_counter) == (1, 1, 7, 7)
    # the result at 23:59:59 the evening before the due day is early; at 00:00 on it and at the due moment on
    # time; a microsecond after the due moment late; the early one's electronic result counts
    assert (p1.resolved, p1.early, p1.on_time, p1.late, p1.electronic_results) == (4, 1, 2, 1, 1)
    # paused before the deadline: in progress within its due; paused after it, or never paused: overdue
    assert (p1.in_progress, p1.overdue) == (3, 2)
    # received at the first moment of March counts; the one received at 1 April 00:00 does not
    assert (p2.received, p2.in_progress, p2.overdue, p2.resolved) == (1, 1, 1, 0)
    # the online dossier still in the reception queue is not counted
    assert sum(g.indicators.received for g in by_agency.groups) == 8 == by_agency.total.received
    # two departments' claims at one moment: the first recorded wins; a specialist without a department is no one's
    assert [(g.key, g.indicators.carried_over, g.indicators.overdue) for g in day.groups] == [("D-TP", 1, 1)]
