"""What a dossier's step costs the database (issue 17, point 5), on a real SQLite database: an engine step reads
the instance's mirror rows in one statement and writes only what changed, fetch-and-lock is one statement, several
audit entries of one unit of work read the chain head once — and none of it loses what the slower path kept: the
oldest tasks first, a chain that verifies after a rolled-back unit, a catalogue change seen at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, update

from dossiers.clock import SimulatedClock
from dossiers.ports import AuditEvent
from motcua.app import Runtime
from persistence.schema import procedure, wf_external_task, wf_timer, wf_user_task
from persistence.uow import transaction
from workflows.embedded.engine import EmbeddedEngine

pytest_plugins = ["tests.integration.embedded_engine_fixtures"]  # clock, engine
pytestmark = pytest.mark.integration


@contextmanager
def statements(db: Any) -> Iterator[list[str]]:
    """The SQL statements run meanwhile, without the transactions' own (BEGIN, PRAGMA, COMMIT)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "COMMIT")):
            seen.append(" ".join(statement.split()))

    event.listen(db, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db, "before_cursor_execute", count)


def test_fetch_and_lock_takes_the_oldest_due_tasks_in_one_statement(
    engine: EmbeddedEngine, clock: SimulatedClock
) -> None:
    for key in ("K-1", "K-2", "K-3"):
        engine.start("bench_five_waits", key, {})
        clock.advance(dt.timedelta(seconds=1))
    with statements(engine.db) as seen:
        first = engine.fetch_and_lock("worker-a", ["bench.noop"], 2, lock_seconds=30)
    assert len(seen) == 1, seen
    assert [t.business_key for t in first] == ["K-1", "K-2"]
    assert all(t.worker_id == "worker-a" and t.lock_expires_at == clock.now() + dt.timedelta(seconds=30) for t in first)
    [third] = engine.fetch_and_lock("worker-b", ["bench.noop"], 5, lock_seconds=30)
    assert third.business_key == "K-3"
    assert engine.fetch_and_lock("worker-c", ["bench.noop"], 5, lock_seconds=30) == []  # all locked
    with engine.db.connect() as conn:
        locks = dict(conn.execute(select(wf_external_task.c.business_key, wf_external_task.c.worker_id)).all())
    assert locks == {"K-1": "worker-a", "K-2": "worker-a", "K-3": "worker-b"}


def test_an_engine_step_reads_the_mirror_rows_once_and_writes_only_what_changed(engine: EmbeddedEngine) -> None:
    engine.start("bench_five_waits", "K-1", {"decision": "approve"})
    [task] = engine.fetch_and_lock("worker-a", ["bench.noop"], 5, lock_seconds=30)
    with statements(engine.db) as seen:
        engine.complete_external_task(task.id, "worker-a", {"by": "a"})
    mirror_reads = [s for s in seen if s.startswith("SELECT") and "wf_timer" in s]
    assert len(mirror_reads) == 1 and "wf_user_task" in mirror_reads[0], seen  # one read for the three tables
    assert not [s for s in seen if "wf_timer" in s and not s.startswith("SELECT")], seen  # no timer: nothing written
    assert len(seen) <= 6, seen
    [user_task] = engine.user_tasks()
    assert (user_task.activity_id, user_task.candidate_groups, user_task.variables["by"]) == (
        "step2",
        ("specialist",),
        "a",
    )
    with engine.db.connect() as conn:
        assert conn.execute(select(wf_external_task.c.id)).all() == []
        assert conn.execute(select(wf_timer.c.id)).all() == []
    # completing the claimed user task removes its row and adds the next external task; no user-task row is written
    engine.claim(user_task.id, "chuyenvien1")
    with statements(engine.db) as seen:
        engine.complete_user_task(user_task.id, {"decision": "approve"})
    assert not [s for s in seen if s.startswith(("INSERT INTO wf_user_task", "UPDATE wf_user_task"))], seen
    with engine.db.connect() as conn:
        assert conn.execute(select(wf_user_task.c.id)).all() == []
        assert [r.activity_id for r in conn.execute(select(wf_external_task.c.activity_id))] == ["step3"]


def test_entries_of_one_unit_read_the_head_once_and_a_rolled_back_unit_leaves_the_chain_whole(
    runtime: Runtime,
) -> None:
    at = runtime.clock.now()

    def entry(n: int) -> AuditEvent:
        return AuditEvent(
            kind="task.completed", actor="canbo1", at=at, dossier_code="000.00.31.H99-260302-0001", details={"n": n}
        )

    runtime.audit.append(entry(0))  # the first append of a log creates its head row
    with statements(runtime.db) as seen, transaction(runtime.db):
        runtime.audit.append(entry(1))
        runtime.audit.append(entry(2))
        runtime.audit.append(entry(3))
    assert len([s for s in seen if s.startswith("SELECT") and "audit_head" in s]) == 1, seen
    with pytest.raises(RuntimeError), transaction(runtime.db):
        runtime.audit.append(entry(4))
        runtime.audit.append(entry(5))
        raise RuntimeError("the change failed: its entries go with it")
    last = runtime.audit.append(entry(6))
    assert last.seq == 5
    entries = runtime.audit.all()
    assert [(e.seq, e.event.details["n"]) for e in entries] == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 6)]
    assert entries[-1].prev_hash == entries[-2].entry_hash
    assert runtime.audit.head() == (5, last.entry_hash)
    assert runtime.audit.verify() is None


def test_a_catalogue_change_is_seen_at_once(runtime: Runtime) -> None:
    before = runtime.shop.entry("1.001612")
    assert runtime.shop.entry("1.001612") == before
    with transaction(runtime.db) as conn:
        data = dict(conn.execute(select(procedure.c.data).where(procedure.c.code == "1.001612")).scalar_one())
        data["name"] = "Đăng ký thành lập hộ kinh doanh (sửa đổi)"
        conn.execute(update(procedure).where(procedure.c.code == "1.001612").values(data=data))
    assert runtime.shop.entry("1.001612").name == "Đăng ký thành lập hộ kinh doanh (sửa đổi)"
