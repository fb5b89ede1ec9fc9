"""The once-a-second jobs touch only due rows (issue 17, point 3): the late-risk scan and the two outboxes' next-row
queries are answered through their indexes on SQLite (EXPLAIN QUERY PLAN of the statements the jobs really send),
not by scanning every dossier, message or envelope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from persistence import exchange_records, late_notices
from persistence import notifications as messages
from persistence import outbox as queues
from persistence.schema import metadata
from persistence.uow import make_engine, transaction

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def plans(db: Engine, job: Callable[[], Any]) -> list[str]:
    """The query plan of every SELECT the job sends."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(db, "before_cursor_execute", capture)
    try:
        job()
    finally:
        event.remove(db, "before_cursor_execute", capture)
    found = []
    with db.connect() as conn:
        for statement, parameters in sent:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            found.append(" | ".join(str(r[-1]) for r in rows))
    return found


def test_the_late_risk_scan_reads_the_status_and_due_index(db: Engine) -> None:
    def job() -> None:
        with transaction(db) as conn:
            late_notices.dossiers_without_notice(conn, "in_progress", NOW)

    [plan] = plans(db, job)
    assert "ix_dossier_status_due" in plan, plan


@pytest.mark.parametrize(
    "queue",
    [
        messages.queue(queues.Backoff(60), 600, 5),
        exchange_records.outbox_queue(queues.Backoff(30, 120), 600),
    ],
    ids=["notifications", "envelopes"],
)
def test_an_outbox_finds_its_next_due_row_through_its_index(db: Engine, queue: queues.Queue) -> None:
    found = plans(db, lambda: queues.claim_next(db, queue, NOW))
    assert found and all("USING INDEX ix_" in p and "SCAN " + queue.table.name not in p for p in found), found


def test_the_indexes_exist_after_the_migrations(tmp_path: Path) -> None:
    from persistence.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    upgrade(engine)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
    engine.dispose()
    assert {"ix_dossier_status_due", "ix_notification_status_created", "ix_exchange_outbox_status_next"} <= names
