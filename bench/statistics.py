"""Statistics at scale (issue 17, point 3): N dossiers over eighteen months in every state, with payments,
documents, ratings, handling events and ``--audit-per-dossier`` other audit entries each (reads, steps: a real log
is much longer than the dossier table), inserted through persistence in a temporary SQLite database (or
``--database-url``); then the QĐ 766 report of the eighteen months, grouped three ways, computed *before* (every
dossier loaded into Python with its payments, documents, rating and events, then ``dossiers.statistics.compute`` —
the loader is kept in ``tests/integration/test_statistics_sql.py`` as the yardstick) and *after* (one grouped
query, ``persistence.reports.statistics_report``), both in the same run, beside a bare ``SELECT 1`` round trip; the
two reports are compared.

Run: ``.venv/bin/python -m bench.statistics --dossiers 20000``.

Province scale: ``.venv/bin/python -m bench.statistics --database postgresql --dossiers 1000000`` starts a
throw-away PostgreSQL cluster like the tests' (or takes ``--database-url``) and fills it with synthetic rows by raw
``INSERT … SELECT generate_series`` (:func:`fill_synthetic`). That is allowed here only because this measures the
*query*, not the application: the rows are shaped like a province's 18 months (≈ 30 agencies, ≈ 200 procedures,
≈ 2 % open, ≈ 10 specialists per agency leaving ≈ 2 handling events per dossier, other log entries beside them)
but the audit chain is not valid and no use case ran — the scale benchmark (``bench/scale.py``) builds through the
services. It then runs ``VACUUM ANALYZE`` and times the report of one year (2025) grouped three ways, ``--repeat``
rounds, the median (no "before" load of every row: at this size it is the thing being replaced).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from dossiers.calendar import VN_TZ
from dossiers.ports import AuditEvent
from dossiers.statistics import DIGITISED_INPUT_KIND, ELECTRONIC_RESULT_KIND, GroupBy, Period, compute
from persistence.audit_log import SqlAuditLog
from persistence.reports import statistics_query, statistics_report
from persistence.schema import app_user, metadata, procedure
from persistence.uow import make_engine, transaction
from tests.integration.test_statistics_sql import populate, reference_records

PERIOD = Period(dt.datetime(2025, 1, 1, tzinfo=VN_TZ), dt.datetime(2026, 7, 1, tzinfo=VN_TZ))
YEAR = Period(dt.datetime(2025, 1, 1, tzinfo=VN_TZ), dt.datetime(2026, 1, 1, tzinfo=VN_TZ))
AGENCIES, PROCEDURES, SPECIALISTS, DEPARTMENTS = 30, 200, 10, 4


def best_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return round(min(times), 1), result


def filler(db: Any, dossiers: int, per_dossier: int) -> None:
    """Other audit entries of the dossiers (what reads and steps leave), appended in batches."""
    log = SqlAuditLog(db)
    rng = random.Random(7)
    at = dt.datetime(2025, 1, 1, tzinfo=VN_TZ)
    batch: list[AuditEvent] = []
    for n in range(dossiers * per_dossier):
        code = f"R{rng.randrange(dossiers):04d}"
        kind = rng.choice(
            ("dossier.read", "dossier.read", "document.read", "dossier.status_changed", "document.stored")
        )
        batch.append(AuditEvent(kind, "canbo", at + dt.timedelta(seconds=n), code, {"n": n}))
        if len(batch) == 20_000:
            log.append_many(batch)
            batch = []
    log.append_many(batch)


# ------------------------------------------------------------------ province scale (synthetic rows, PostgreSQL)

_SPAN_S = 546 * 86400  # 1 January 2025 – 1 July 2026, Vietnamese days
_DOSSIERS_SQL = """
WITH s AS (
    SELECT i,
           TIMESTAMP '2024-12-31 17:00:00' + ((i::bigint * :span) / :n + i % 3600) * INTERVAL '1 second' AS received,
           i > :n * 0.98 AS open, (i * 13) % 100 AS pick
    FROM generate_series(1, :n) AS i
), t AS (
    SELECT s.*,
           received + (ARRAY[1, 3, 5, 10, 15])[1 + i % 5] * INTERVAL '1 day' + (i % 24) * INTERVAL '1 hour' AS due,
           CASE WHEN open THEN (ARRAY['received', 'in_progress', 'in_progress', 'supplement_requested'])[1 + i % 4]
                WHEN pick < 4 THEN 'refused' WHEN pick < 5 THEN 'withdrawn'
                WHEN pick < 40 THEN 'result_ready' ELSE 'returned' END AS status
    FROM s
)
INSERT INTO dossier (code, procedure_code, agency_code, structure_version, status, applicant_name,
                     applicant_id_number, channel, received_at, clock_start, due_at, paused_at, paused_seconds,
                     finished_at, accepted_at, received_by, updated_at, return_channel, search_text)
SELECT 'S' || lpad(i::text, 8, '0'), 'P' || lpad(((i * 7) % :procedures)::text, 3, '0'),
       'A' || lpad((i % :agencies)::text, 2, '0'), '2025', status, 'Nguyễn Văn An', '001090012345',
       CASE WHEN (i * 3) % 10 < 2 THEN 'online' WHEN (i * 3) % 10 = 2 THEN 'postal' ELSE 'counter' END,
       received, received, due,
       CASE WHEN status = 'supplement_requested' THEN received + INTERVAL '2 days' END, 0,
       CASE WHEN NOT open THEN GREATEST(
           due + (ARRAY[-72, -30, -20, -5, -1, 0, 1, 5, 30, 200])[1 + (i * 17) % 10] * INTERVAL '1 hour',
           received + INTERVAL '5 minutes') END,
       received, 'tiepnhan', received, CASE WHEN (i * 11) % 10 < 2 THEN 'postal' ELSE 'counter' END, ''
FROM t
"""
_NUMBERED = "(SELECT d.*, substr(d.code, 2)::int AS i FROM dossier AS d) AS n"
_PAYMENTS_SQL = f"""
INSERT INTO payment (id, dossier_code, amount_vnd, method, online, reference, status, created_at, paid_at,
                     recorded_by)
SELECT 'pay' || i, code, 50000, CASE WHEN i % 4 = 0 THEN 'gateway' ELSE 'cash' END, i % 4 = 0, 'ref' || i,
       CASE WHEN (i * 19) % 10 < 8 THEN 'paid' ELSE 'pending' END, received_at,
       CASE WHEN (i * 19) % 10 < 8 THEN received_at + INTERVAL '1 hour' END, 'tiepnhan'
FROM {_NUMBERED} WHERE i % 2 = 0
"""
_DOCUMENTS_SQL = f"""
INSERT INTO document (id, dossier_code, kind, filename, content_type, size, sha256, storage_key, created_by,
                      created_at)
SELECT 'doc' || i || '-' || k, code, kind, 'giay.pdf', 'application/pdf', 1, repeat('0', 64), 'k/' || i || '-' || k,
       'tiepnhan', at
FROM (SELECT i, code, 1 AS k, CASE WHEN channel = 'counter' AND i % 3 <> 0 THEN :scan ELSE 'upload' END AS kind,
             received_at AS at FROM {_NUMBERED}
      UNION ALL
      SELECT i, code, 2, :result, finished_at FROM {_NUMBERED} WHERE status IN ('result_ready', 'returned')) AS x
"""
_RATINGS_SQL = f"""
INSERT INTO rating (dossier_code, level, rated_at)
SELECT code, 1 + i % 5, finished_at + (i % 40) * INTERVAL '1 day'
FROM {_NUMBERED} WHERE status IN ('result_ready', 'returned') AND i % 10 < 3
"""
# handling events: a specialist of the dossier's agency claims it two hours in (unless nobody has yet) and completes
# it the day after (once it is finished); a third carry the department in their details, the rest fall back to
# the official's; then ``others`` entries per dossier of other kinds (reads, status changes, stored documents)
_AUDIT_SQL = f"""
INSERT INTO audit_log (seq, kind, actor, at, dossier_code, details, prev_hash, entry_hash)
SELECT seq, kind, actor, at, code,
       CASE WHEN kind LIKE 'task.%' AND seq % 3 = 0
            THEN json_build_object('department', 'D' || agency_code || '-' || (i % :departments))
            ELSE '{{}}'::json END,
       repeat('0', 64), lpad(seq::text, 64, '0')
FROM (SELECT i * 16 AS seq, 'task.claimed' AS kind, received_at + INTERVAL '2 hours' AS at, n.*
      FROM {_NUMBERED} WHERE status <> 'received'
      UNION ALL
      SELECT i * 16 + 1, 'task.completed', received_at + INTERVAL '1 day', n.*
      FROM {_NUMBERED} WHERE finished_at IS NOT NULL
      UNION ALL
      SELECT i * 16 + 2 + k, (ARRAY['dossier.read', 'document.read', 'dossier.status_changed', 'document.stored'])
                                 [1 + k % 4], received_at + k * INTERVAL '1 hour', n.*
      FROM {_NUMBERED} CROSS JOIN generate_series(0, :others - 1) AS k) AS e
CROSS JOIN LATERAL (SELECT CASE WHEN kind LIKE 'task.%'
                                THEN 'cv.' || agency_code || '.' || ((i * 7) % :specialists)
                                ELSE 'canbo' END AS actor) AS who
"""


def fill_synthetic(db: Any, dossiers: int, others: int) -> None:
    """A province's 18 months as raw rows (PostgreSQL only; see the module docstring for why that is fine here)."""
    if db.dialect.name != "postgresql":
        raise SystemExit("the synthetic fill is written for PostgreSQL (generate_series)")
    if not 0 <= others <= 14:
        raise SystemExit("--audit-per-dossier: 0 … 14 other entries per dossier with the synthetic fill")
    at = dt.datetime(2025, 1, 1, tzinfo=VN_TZ)
    agencies = [f"A{a:02d}" for a in range(AGENCIES)]
    users = [
        {
            "username": f"cv.{a}.{k}",
            "full_name": f"Chuyên viên {k}",
            "password_hash": "x",
            "role": "specialist",
            "agency_code": a,
            "department_code": f"D{a}-{k % DEPARTMENTS}" if k else None,  # one without a department
            "active": True,
            "created_at": at,
        }
        for a in agencies
        for k in range(SPECIALISTS)
    ]
    users.append({**users[0], "username": "canbo", "role": "leader", "department_code": "D-LD"})
    params = {
        "n": dossiers,
        "span": _SPAN_S,
        "agencies": AGENCIES,
        "procedures": PROCEDURES,
        "departments": DEPARTMENTS,
        "specialists": SPECIALISTS,
        "others": others,
        "scan": DIGITISED_INPUT_KIND,
        "result": ELECTRONIC_RESULT_KIND,
    }
    with db.begin() as conn:
        conn.execute(
            insert(procedure),
            [
                {"code": f"P{p:03d}", "name": f"P{p}", "process_key": "p", "time_limit_days": 5, "working_days": True}
                | {"data": {}}
                for p in range(PROCEDURES)
            ],
        )
        conn.execute(insert(app_user), users)
        for sql in (_DOSSIERS_SQL, _PAYMENTS_SQL, _DOCUMENTS_SQL, _RATINGS_SQL, _AUDIT_SQL):
            conn.execute(text(sql), params)
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 1), result


def province(args: argparse.Namespace, url: str) -> None:
    """The synthetic province: fill, then the year's report grouped three ways (median of ``--repeat``)."""
    db = make_engine(url)
    began = time.perf_counter()
    if not args.filled:
        metadata.create_all(db)
        fill_synthetic(db, args.dossiers, args.audit_per_dossier)
    built = time.perf_counter() - began
    with transaction(db, read_only=True) as conn:
        dossiers = conn.execute(text("SELECT count(*) FROM dossier")).scalar_one()
        entries = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else None
    round_trip, _ = best_ms(lambda: _select_one(db), 20)
    print(
        json.dumps(
            {
                "dossiers": dossiers,
                "audit_entries": entries,
                "load_average_1min": load,
                "database_mb": round(size / 2**20),
                "built_s": round(built, 1),
                "dialect": db.dialect.name,
                "select_1_ms": round_trip,
            }
        ),
        flush=True,
    )
    for group_by in [GroupBy(g) for g in args.group_by] if args.group_by else GroupBy:

        def report(group_by: GroupBy = group_by) -> Any:
            with transaction(db, read_only=True) as conn:
                return statistics_report(conn, YEAR, group_by)

        ms, result = median_ms(report, args.repeat)
        total = result.total
        print(
            json.dumps(
                {
                    "group_by": group_by.value,
                    "period": "2025",
                    "median_ms": ms,
                    "rounds": args.repeat,
                    "groups": len(result.groups),
                    "received": total.received,
                    "resolved": total.resolved,
                    "in_progress": total.in_progress,
                }
            ),
            flush=True,
        )
        if args.explain:
            with transaction(db, read_only=True) as conn:
                query = statistics_query(YEAR, group_by, dialect=db.dialect.name)
                compiled = query.compile(dialect=db.dialect, compile_kwargs={"literal_binds": True})
                plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars()
                print("\n".join(plan), file=sys.stderr, flush=True)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=20_000)
    parser.add_argument("--audit-per-dossier", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: the synthetic province fill in a throw-away cluster (or --database-url), one year timed",
    )
    parser.add_argument("--explain", action="store_true", help="print each query's EXPLAIN ANALYZE to stderr")
    parser.add_argument(
        "--filled", action="store_true", help="with --database-url: the synthetic rows are there already, only time"
    )
    parser.add_argument("--group-by", choices=[g.value for g in GroupBy], action="append", help="only these")
    args = parser.parse_args()
    if args.database == "postgresql":
        if args.database_url:
            province(args, args.database_url)
            return
        from tests.integration.postgres import start_cluster

        cluster = start_cluster()
        try:
            province(args, cluster.url())
        finally:
            cluster.stop()
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(args.database_url or f"sqlite:///{Path(tmp) / 'statistics.sqlite3'}")
        metadata.create_all(db)
        began = time.perf_counter()
        populate(db, count=args.dossiers)
        filler(db, args.dossiers, args.audit_per_dossier)
        built = time.perf_counter() - began
        with transaction(db, read_only=True) as conn:
            entries = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        round_trip, _ = best_ms(lambda: _select_one(db), 20)
        print(
            json.dumps(
                {
                    "dossiers": args.dossiers,
                    "audit_entries": entries,
                    "built_s": round(built, 1),
                    "dialect": db.dialect.name,
                    "select_1_ms": round_trip,
                }
            )
        )
        for group_by in GroupBy:

            def before(group_by: GroupBy = group_by) -> Any:
                with transaction(db, read_only=True) as conn:
                    return compute(reference_records(conn, PERIOD, None), PERIOD, group_by)

            def after(group_by: GroupBy = group_by) -> Any:
                with transaction(db, read_only=True) as conn:
                    return statistics_report(conn, PERIOD, group_by)

            before_ms, old = best_ms(before, args.repeat)
            after_ms, new = best_ms(after, args.repeat)
            print(
                json.dumps(
                    {
                        "group_by": group_by.value,
                        "months": 18,
                        "before_ms": before_ms,
                        "after_ms": after_ms,
                        "groups": len(new.groups),
                        "same_figures": old == new,
                    }
                )
            )
        db.dispose()


def _select_one(db: Any) -> None:
    with transaction(db, read_only=True) as conn:
        conn.execute(text("SELECT 1"))


if __name__ == "__main__":
    main()
