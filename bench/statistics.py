"""Statistics at scale (issue 17, point 3): N dossiers over eighteen months in every state, with payments,
documents, ratings, handling events and ``--audit-per-dossier`` other audit entries each (reads, steps: a real log
is much longer than the dossier table), inserted through persistence in a temporary SQLite database (or
``--database-url``); then the QĐ 766 report of the eighteen months, grouped three ways, computed *before* (every
dossier loaded into Python with its payments, documents, rating and events, then ``dossiers.statistics.compute`` —
the loader is kept in ``tests/integration/test_statistics_sql.py`` as the yardstick) and *after* (one grouped
query, ``persistence.reports.statistics_report``), both in the same run, beside a bare ``SELECT 1`` round trip; the
two reports are compared.

Run: ``.venv/bin/python -m bench.statistics --dossiers 20000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dossiers.calendar import VN_TZ
from dossiers.ports import AuditEvent
from dossiers.statistics import GroupBy, Period, compute
from persistence.audit_log import SqlAuditLog
from persistence.reports import statistics_report
from persistence.schema import metadata
from persistence.uow import make_engine, transaction
from tests.integration.test_statistics_sql import populate, reference_records

PERIOD = Period(dt.datetime(2025, 1, 1, tzinfo=VN_TZ), dt.datetime(2026, 7, 1, tzinfo=VN_TZ))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=20_000)
    parser.add_argument("--audit-per-dossier", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args()
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
