"""Reads leave audit entries without queuing for the writers' lock (issue 17, point 2): a read's entry is queued and
appended in batches — one short transaction and one lock of the chain head for many entries — by a flusher thread,
at shutdown, or by the request that fills the queue; the entries are ordinary chain entries in the order the reads
were recorded, and ``verify`` holds. On SQLite and PostgreSQL, and through the HTTP API while a writer holds the
lock."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from dossiers.calendar import VN_TZ
from dossiers.ports import AuditEvent
from persistence.audit_log import SqlAuditLog
from persistence.schema import audit_log, metadata
from persistence.uow import make_engine, transaction
from tests.integration.postgres import PostgresCluster

pytestmark = pytest.mark.integration

AT = dt.datetime(2026, 3, 2, 9, tzinfo=VN_TZ)


def read(n: int, code: str = "X-1") -> AuditEvent:
    return AuditEvent("dossier.read", f"canbo{n}", AT + dt.timedelta(seconds=n), code, {"n": n})


def committed(db: Engine) -> list[tuple[int, str, str]]:
    """(seq, kind, actor) of the entries in the table, read directly (not through the log, which would flush)."""
    with transaction(db, read_only=True) as conn:  # deferred on SQLite: it does not wait for a writer either
        rows = conn.execute(select(audit_log.c.seq, audit_log.c.kind, audit_log.c.actor).order_by(audit_log.c.seq))
        return [(r.seq, r.kind, r.actor) for r in rows]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    name = None
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.fresh_database()
        name = url.rsplit("/", 1)[1]
        engine = make_engine(url)
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        if name is not None:
            cluster.drop_database(name)


def holding_the_writers_lock(log: SqlAuditLog) -> tuple[threading.Event, threading.Thread]:
    """A writer that appended an entry and keeps its transaction (and the head lock) open until released."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(log.db):
            log.append(AuditEvent("task.completed", "writer", AT, "X-1", {}))
            holding.set()
            release.wait(20)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    return release, thread


def test_a_read_does_not_wait_for_a_writer_and_lands_in_the_chain(db: Engine) -> None:
    log = SqlAuditLog(db, read_flush_seconds=0.2)
    log.append(AuditEvent("dossier.received", "tiepnhan", AT, "X-1", {}))
    release, thread = holding_the_writers_lock(log)
    began = time.monotonic()
    for n in range(5):
        log.append_read(read(n))
    waited = time.monotonic() - began
    time.sleep(0.5)  # the flusher tried meanwhile: it waits for the lock, the readers did not
    assert [kind for _, kind, _ in committed(db)] == ["dossier.received"]
    release.set()
    thread.join(10)
    assert waited < 0.5, f"recording five reads took {waited:.2f} s while a writer held the lock"
    # the flusher appends them once the writer commits, without anyone reading the log
    deadline = time.monotonic() + 10
    while len(committed(db)) < 7 and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = committed(db)
    assert [(kind, actor) for _, kind, actor in rows] == [
        ("dossier.received", "tiepnhan"),
        ("task.completed", "writer"),
        *(("dossier.read", f"canbo{n}") for n in range(5)),  # in the order the reads were recorded
    ]
    assert [seq for seq, _, _ in rows] == list(range(1, 8))
    assert log.verify() is None
    assert [e.event.details["n"] for e in log.for_dossier("X-1") if e.event.kind == "dossier.read"] == list(range(5))
    log.close()


def test_one_transaction_appends_a_whole_batch(db: Engine) -> None:
    log = SqlAuditLog(db, read_flush_seconds=60)  # no flusher tick during the test: the test flushes
    begins: list[int] = []
    event.listen(db, "begin", lambda conn: begins.append(1))
    for n in range(50):
        log.append_read(read(n, code=f"X-{n % 3}"))
    assert committed(db) == []
    begins.clear()
    assert log.flush_reads() == 50
    assert len(begins) == 1  # fifty entries, one transaction (one head lock)
    assert [actor for _, _, actor in committed(db)] == [f"canbo{n}" for n in range(50)]
    assert log.verify() is None
    log.close()


def test_a_change_after_a_read_comes_after_it_in_the_chain_and_a_rollback_gives_the_reads_back(db: Engine) -> None:
    """A page read, then an export: the chain keeps that order (the queued reads go first, with the change); a
    change that rolls back takes no read with it."""
    log = SqlAuditLog(db, read_flush_seconds=60)
    log.append_read(read(1))
    with pytest.raises(RuntimeError), transaction(db):
        log.append(AuditEvent("register.exported", "writer", AT, None, {}))
        raise RuntimeError("the export failed")
    assert committed(db) == []  # nothing of the failed change, and the read is still queued
    log.append_read(read(2))
    log.append(AuditEvent("register.exported", "writer", AT, None, {}))
    assert committed(db) == [
        (1, "dossier.read", "canbo1"),
        (2, "dossier.read", "canbo2"),
        (3, "register.exported", "writer"),
    ]
    assert log.flush_reads() == 0
    assert log.verify() is None
    log.close()


def test_reading_the_log_shows_the_queued_reads_and_close_appends_the_rest(db: Engine) -> None:
    log = SqlAuditLog(db, read_flush_seconds=60)
    log.append_read(read(1, code="X-1"))
    log.append_read(read(2, code="X-2"))
    # what is already in the chain only (every authorization asks this): nothing queued is appended
    assert log.for_dossier("X-1", include_queued=False) == [] and committed(db) == []
    assert [e.event.actor for e in log.for_dossier("X-1")] == ["canbo1"]  # its queued read enters the chain first
    assert len(committed(db)) == 2  # the batch takes everything queued
    log.append_read(read(3))
    log.close()  # shutdown: what is queued is appended
    assert [actor for _, _, actor in committed(db)] == ["canbo1", "canbo2", "canbo3"]
    assert log.verify() is None


def test_a_full_queue_is_appended_by_the_request_that_fills_it(db: Engine) -> None:
    log = SqlAuditLog(db, read_flush_seconds=60, read_buffer_entries=3)
    log.append_read(read(1))
    log.append_read(read(2))
    assert committed(db) == []
    log.append_read(read(3))
    assert [actor for _, _, actor in committed(db)] == ["canbo1", "canbo2", "canbo3"]
    log.close()


def test_a_read_inside_a_writing_unit_joins_it_and_flush_interval_zero_appends_at_once(db: Engine) -> None:
    log = SqlAuditLog(db, read_flush_seconds=60)
    with transaction(db):
        log.append(AuditEvent("dossier.received", "tiepnhan", AT, "X-1", {}))
        log.append_read(read(1))  # the lock is held already: appended in this unit, committed with it
    assert [kind for _, kind, _ in committed(db)] == ["dossier.received", "dossier.read"]
    now = SqlAuditLog(db, read_flush_seconds=0)
    now.append_read(read(2))
    assert len(committed(db)) == 3
    assert log.verify() is None


def test_a_dossier_read_over_http_does_not_wait_for_a_writer(api: Any) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    api.token("chuyenvien1.xa1")  # log in first: a login is a change, recorded with the writers
    before = api.runtime.audit.head()[0]
    release, thread = holding_the_writers_lock(api.runtime.audit)
    try:
        began = time.monotonic()
        page = api.get(f"/api/dossiers/{code}", "chuyenvien1.xa1")
        waited = time.monotonic() - began
    finally:
        release.set()
        thread.join(10)
    assert page.status_code == 200 and page.json()["code"] == code
    assert waited < 2.0, f"the read waited {waited:.2f} s for the writer"
    entries = [e.event for e in api.runtime.audit.all() if e.seq > before]
    assert [(e.kind, e.actor) for e in entries] == [("task.completed", "writer"), ("dossier.read", "chuyenvien1.xa1")]
    assert api.runtime.audit.verify() is None
