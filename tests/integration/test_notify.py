"""The notification outbox on a database and its dispatcher with the in-memory and file adapters: one row per
idempotency key, retries with back-off on the simulated clock, failures kept with their error, no second delivery."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, select, update

from dossiers.clock import SimulatedClock
from integrations.notifications import FileTransport, MemoryTransport
from persistence.schema import metadata, notification
from persistence.uow import make_engine, transaction
from services.notifications import Dispatcher, Outbox, notify_applicant
from tests.unit.test_notify import BODY, SUBJECT

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.sqlite3'}")
    metadata.create_all(engine, tables=[notification])
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


def _rows(db: Engine) -> list[object]:
    with transaction(db) as conn:
        return list(conn.execute(select(notification).order_by(notification.c.created_at)).all())


def _dispatcher(db: Engine, clock: SimulatedClock, transport: object, tmp_path: Path, **kw: object) -> Dispatcher:
    return Dispatcher(
        db,
        clock,
        {"email": transport, "sms": transport},  # type: ignore[dict-item]
        FileTransport(tmp_path / "outbox" / "notifications.jsonl"),
        **kw,  # type: ignore[arg-type]
    )


def test_notify_writes_one_row_per_idempotency_key(db: Engine, clock: SimulatedClock) -> None:
    outbox = Outbox(db, clock)
    first = outbox.notify("email", "an@example.vn", SUBJECT, BODY, "k1")
    again = outbox.notify("email", "an@example.vn", SUBJECT, "another body", "k1")
    other = outbox.notify("sms", "0912345678", SUBJECT, BODY, "k2")
    assert first == again != other
    rows = _rows(db)
    assert [(r.channel, r.status, r.attempts, r.body) for r in rows] == [  # type: ignore[attr-defined]
        ("email", "pending", 0, BODY),
        ("sms", "pending", 0, BODY),
    ]
    with pytest.raises(ValueError, match="unknown notification channel"):
        outbox.notify("fax", "x", "s", "b", "k3")


def test_the_outbox_row_belongs_to_the_business_transaction(db: Engine, clock: SimulatedClock) -> None:
    outbox = Outbox(db, clock)
    with pytest.raises(RuntimeError), transaction(db):
        outbox.notify("email", "an@example.vn", SUBJECT, BODY, "rolled-back")
        raise RuntimeError("the business change failed")
    assert _rows(db) == []


def test_dispatch_sends_once(db: Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    transport = MemoryTransport()
    outbox = Outbox(db, clock)
    outbox.notify("email", "an@example.vn", SUBJECT, BODY, "k1", dossier_code="D1")
    dispatcher = _dispatcher(db, clock, transport, tmp_path)
    report = dispatcher.dispatch()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    assert [(m.subject, m.body, m.dossier_code) for m in transport.sent] == [(SUBJECT, BODY, "D1")]
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.last_error, row.sent_at) == ("sent", 1, None, START)  # type: ignore[attr-defined]
    # redispatching, or notifying again under the same key, sends nothing more
    outbox.notify("email", "an@example.vn", SUBJECT, BODY, "k1", dossier_code="D1")
    clock.advance(dt.timedelta(hours=1))
    assert dispatcher.dispatch().sent == 0
    assert len(transport.sent) == 1


def test_failures_are_retried_with_back_off_and_recorded(db: Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    transport = MemoryTransport(failures=2)
    Outbox(db, clock).notify("sms", "0912345678", SUBJECT, BODY, "k1")
    dispatcher = _dispatcher(db, clock, transport, tmp_path, max_attempts=5, retry_seconds=60)
    assert dispatcher.dispatch().retrying == 1
    (row,) = _rows(db)
    assert (row.status, row.attempts) == ("pending", 1)  # type: ignore[attr-defined]
    assert "simulated failure" in row.last_error  # type: ignore[attr-defined]
    assert dispatcher.dispatch().retrying == 0  # not due before 60 s
    clock.advance(dt.timedelta(seconds=60))
    assert dispatcher.dispatch().retrying == 1  # second failure: next try after 120 s
    clock.advance(dt.timedelta(seconds=119))
    assert dispatcher.dispatch() == type(dispatcher.dispatch())()
    clock.advance(dt.timedelta(seconds=1))
    assert dispatcher.dispatch().sent == 1
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)  # type: ignore[attr-defined]
    assert len(transport.sent) == 1


def test_after_the_last_attempt_the_message_is_failed_and_kept(
    db: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    transport = MemoryTransport(failures=100)
    recorded: list[tuple[str, dict[str, object]]] = []
    Outbox(db, clock).notify("email", "an@example.vn", SUBJECT, BODY, "k1", dossier_code="D1")
    dispatcher = _dispatcher(
        db,
        clock,
        transport,
        tmp_path,
        max_attempts=3,
        retry_seconds=1,
        record=lambda k, a, c, **d: recorded.append((k, d)),
    )
    for _ in range(5):
        dispatcher.dispatch()
        clock.advance(dt.timedelta(minutes=10))
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.body) == ("failed", 3, BODY)  # type: ignore[attr-defined]
    assert row.last_error.startswith("ConnectionError")  # type: ignore[attr-defined]
    assert [k for k, _ in recorded] == ["notification.failed"]
    # the operator fixed the cause: requeued, it is delivered once
    transport.failures = 0
    assert dispatcher.requeue(row.id)  # type: ignore[attr-defined]
    assert not dispatcher.requeue(row.id)  # type: ignore[attr-defined]  # only failed rows
    assert dispatcher.dispatch().sent == 1
    assert len(transport.sent) == 1


def test_a_claimed_message_is_not_taken_by_another_dispatcher(
    db: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    Outbox(db, clock).notify("email", "an@example.vn", SUBJECT, BODY, "k1")
    one, other = MemoryTransport(), MemoryTransport()
    first = _dispatcher(db, clock, one, tmp_path)
    second = _dispatcher(db, clock, other, tmp_path)
    (row,) = _rows(db)
    assert first._claim(row, clock.now())
    assert not second._claim(row, clock.now())
    assert second.dispatch().sent == 0  # "sending": not pending
    # the first dispatcher died mid-attempt: after the stale period the row is pending again
    clock.advance(dt.timedelta(seconds=601))
    report = second.dispatch()
    assert (report.recovered, report.sent) == (1, 1)
    assert len(other.sent) == 1 and not one.sent


def test_unconfigured_channels_go_to_the_outbox_file(db: Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "notifications.jsonl"
    outbox = Outbox(db, clock)
    outbox.notify("email", "an@example.vn", SUBJECT, BODY, "k1", dossier_code="D1")
    outbox.notify("outbox", "dossier:D1", SUBJECT, BODY, "k2", dossier_code="D1")
    dispatcher = Dispatcher(db, clock, {}, FileTransport(path))
    assert dispatcher.dispatch().sent == 2
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(x["channel"], x["recipient"], x["idempotency_key"]) for x in lines] == [
        ("email", "an@example.vn", "k1"),
        ("outbox", "dossier:D1", "k2"),
    ]
    assert lines[0]["subject"] == SUBJECT and lines[0]["body"] == BODY
    assert "Hòa An" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_notify_applicant_uses_every_contact_given(db: Engine, clock: SimulatedClock) -> None:
    outbox = Outbox(db, clock)
    both = SimpleNamespace(code="D1", applicant_email="an@example.vn", applicant_phone="0912345678")
    none = SimpleNamespace(code="D2", applicant_email=None, applicant_phone=None)
    assert len(notify_applicant(outbox, both, SUBJECT, BODY, "D1/apology")) == 2
    assert len(notify_applicant(outbox, none, SUBJECT, BODY, "D2/apology")) == 1
    assert len(notify_applicant(outbox, both, SUBJECT, BODY, "D1/apology")) == 2  # idempotent
    got = {(r.dossier_code, r.channel, r.recipient, r.idempotency_key) for r in _rows(db)}  # type: ignore[attr-defined]
    assert got == {
        ("D1", "email", "an@example.vn", "D1/apology/email"),
        ("D1", "sms", "0912345678", "D1/apology/sms"),
        ("D2", "outbox", "dossier:D2", "D2/apology/outbox"),
    }


def test_sent_at_holds_the_attempt_time_while_retrying(db: Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    Outbox(db, clock).notify("email", "an@example.vn", SUBJECT, BODY, "k1")
    dispatcher = _dispatcher(db, clock, MemoryTransport(failures=1), tmp_path, retry_seconds=30)
    dispatcher.dispatch()
    (row,) = _rows(db)
    assert row.sent_at == START  # type: ignore[attr-defined]
    with transaction(db) as conn:  # a row another version left without attempt time is due at once
        conn.execute(update(notification).values(sent_at=None))
    assert dispatcher.dispatch().sent == 1
