"""Readers never wait for writers (issue 17, point 2): on SQLite a read-only unit of work begins deferred on a WAL
snapshot instead of taking the one writer lock, is ``query_only`` (a write in it fails at once), may not have a
writing unit nested in it, and joins a writer it is nested in."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from persistence.uow import WriteInReadOnly, make_engine, transaction


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.sqlite3'}")
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE item (n INTEGER)"))
        conn.execute(text("INSERT INTO item VALUES (1)"))
    yield engine
    engine.dispose()


def test_a_reader_does_not_wait_for_a_writer_holding_the_lock(db) -> None:  # type: ignore[no-untyped-def]
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(db) as conn:
            conn.execute(text("INSERT INTO item VALUES (2)"))  # not committed while the reader reads
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    began = time.monotonic()
    with transaction(db, read_only=True) as conn:
        seen = conn.execute(text("SELECT count(*) FROM item")).scalar()
    waited = time.monotonic() - began
    release.set()
    thread.join(10)
    assert seen == 1  # the last committed state: a snapshot, not the writer's uncommitted row
    assert waited < 1.0, f"the reader waited {waited:.2f} s for the writer"
    with transaction(db, read_only=True) as conn:
        assert conn.execute(text("SELECT count(*) FROM item")).scalar() == 2


def test_a_write_in_a_read_only_unit_fails_at_once(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc.OperationalError, match="readonly"), transaction(db, read_only=True) as conn:
        conn.execute(text("INSERT INTO item VALUES (3)"))
    with pytest.raises(WriteInReadOnly), transaction(db, read_only=True), transaction(db):
        pass
    with transaction(db) as conn:  # the same pooled connection writes again once the reader is done
        conn.execute(text("INSERT INTO item VALUES (4)"))
        with transaction(db, read_only=True) as inner:  # a reader nested in a writer joins it
            assert inner is conn
            assert inner.execute(text("SELECT count(*) FROM item WHERE n = 4")).scalar() == 1
    with transaction(db, read_only=True) as conn:
        assert conn.execute(text("SELECT count(*) FROM item")).scalar() == 2
