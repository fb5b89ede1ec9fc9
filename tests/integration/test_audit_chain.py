"""The audit hash chain over a real database (DESIGN §10): ``persistence.audit_log.SqlAuditLog``, its checkpoints
and the head anchors in the object store, where rows are tampered with directly: every edit, deletion or reordering is
located at the first broken entry. The pure rules are tested in tests/unit/test_audit_chain.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from dossiers.audit import GENESIS_HASH, anchor_key, chain_hash
from dossiers.calendar import VN_TZ
from dossiers.clock import SimulatedClock
from dossiers.ports import AuditEntry, AuditEvent
from motcua.app import Runtime
from motcua.settings import Settings
from persistence.audit_log import AuditCheckpoints, SqlAuditLog
from persistence.schema import audit_checkpoint, audit_log
from persistence.uow import transaction
from services.audit import audit_report
from signing.cms import sign_detached
from tests.unit.test_audit_chain import T0, event

pytestmark = pytest.mark.integration

AUDIT_AGENCY = Settings().audit_agency


# ---------------------------------------------------------------- SqlAuditLog over the database


def _append(runtime: Runtime, n: int, *, tz: dt.tzinfo = dt.UTC) -> list[AuditEntry]:
    return [
        runtime.audit.append(event(i, at=(T0 + dt.timedelta(minutes=i)).astimezone(tz), n=i, step=f"bước {i}"))
        for i in range(1, n + 1)
    ]


def test_sql_audit_log_appends_a_verifiable_chain(runtime: Runtime) -> None:
    assert runtime.audit.all() == []  # a fresh state records nothing
    appended = _append(runtime, 5)
    assert [e.seq for e in appended] == [1, 2, 3, 4, 5]
    assert appended[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in zip(appended, appended[1:], strict=False))
    stored = runtime.audit.all()
    assert [(e.seq, e.prev_hash, e.entry_hash) for e in stored] == [
        (e.seq, e.prev_hash, e.entry_hash) for e in appended
    ]
    assert runtime.audit.verify() is None
    assert [e.seq for e in runtime.audit.for_dossier(event(3).dossier_code or "")] == [3]


def test_sql_audit_log_detects_an_edited_row(runtime: Runtime) -> None:
    _append(runtime, 5)
    with transaction(runtime.db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(details={"n": 3, "step": "đã sửa"}))
    assert runtime.audit.verify() == 3


@pytest.mark.parametrize(
    "values",
    [
        {"actor": "forger"},
        {"kind": "dossier.refused"},
        {"dossier_code": "000.00.31.H99-260302-9999"},
        {"at": T0 + dt.timedelta(days=1)},
        {"prev_hash": "1" * 64},
        {"entry_hash": "2" * 64},
    ],
    ids=["actor", "kind", "dossier", "at", "prev_hash", "entry_hash"],
)
def test_sql_audit_log_detects_any_edited_column(runtime: Runtime, values: dict[str, object]) -> None:
    _append(runtime, 4)
    with transaction(runtime.db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(**values))
    assert runtime.audit.verify() == 2


def test_sql_audit_log_detects_an_edit_with_a_recomputed_hash_at_the_next_row(runtime: Runtime) -> None:
    entries = _append(runtime, 5)
    forged = dataclasses.replace(entries[1].event, actor="forger")
    with transaction(runtime.db) as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq == 2)
            .values(actor="forger", entry_hash=chain_hash(entries[1].prev_hash, forged, 2))
        )
    assert runtime.audit.verify() == 3


def test_sql_audit_log_detects_a_deleted_middle_row(runtime: Runtime) -> None:
    _append(runtime, 5)
    with transaction(runtime.db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 3))
    assert runtime.audit.verify() == 4


def test_sql_audit_log_detects_a_deleted_first_row(runtime: Runtime) -> None:
    _append(runtime, 3)
    with transaction(runtime.db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 1))
    assert runtime.audit.verify() == 2


def test_sql_audit_log_detects_two_rows_with_swapped_seq(runtime: Runtime) -> None:
    _append(runtime, 5)
    with transaction(runtime.db) as conn:  # seq is the primary key: swap through a free value
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(seq=-2))
        conn.execute(update(audit_log).where(audit_log.c.seq == 4).values(seq=2))
        conn.execute(update(audit_log).where(audit_log.c.seq == -2).values(seq=4))
        moved = conn.execute(select(audit_log.c.actor).where(audit_log.c.seq == 2)).scalar_one()
    assert moved == "user4"
    assert runtime.audit.verify() == 2


def test_sql_audit_log_detects_a_row_appended_behind_its_back(runtime: Runtime) -> None:
    """A row inserted directly (not through ``append``) with a made-up hash breaks at that row."""
    _append(runtime, 3)
    with transaction(runtime.db) as conn:
        conn.execute(
            audit_log.insert().values(
                seq=4,
                kind="x",
                actor="forger",
                at=T0,
                dossier_code=None,
                details={},
                prev_hash="3" * 64,
                entry_hash="4" * 64,
            )
        )
    assert runtime.audit.verify() == 4


def test_sql_audit_log_keeps_chaining_after_verification(runtime: Runtime) -> None:
    _append(runtime, 2)
    assert runtime.audit.verify() is None
    runtime.audit.append(event(3))
    assert runtime.audit.verify() is None
    assert len(runtime.audit.all()) == 3


def test_sql_audit_log_detects_a_deleted_newest_row(runtime: Runtime) -> None:
    _append(runtime, 4)
    with transaction(runtime.db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 4))
    assert runtime.audit.verify() is not None


def test_sql_audit_log_verifies_events_timed_in_vietnam_time(runtime: Runtime) -> None:
    _append(runtime, 3, tz=VN_TZ)
    assert runtime.audit.verify() is None


def test_events_recorded_by_the_shop_on_the_simulated_clock_verify(runtime: Runtime) -> None:
    runtime.shop.record("user.login", "tiepnhan.xa1", role="reception")
    runtime.shop.record("clock.advanced", "quantri.tinh", now=runtime.clock.now().isoformat())
    assert runtime.audit.verify() is None


# ---------------------------------------------------------------- the report over the database


def test_the_report_of_an_intact_log_with_a_checkpoint(runtime: Runtime) -> None:
    empty = audit_report(runtime)
    assert empty.intact and empty.entries == 0 and empty.summary().endswith("(no checkpoint yet)")
    assert runtime.checkpoints.make(runtime.clock.now()) is None  # nothing to checkpoint yet
    _append(runtime, 6)
    checkpoint = runtime.checkpoints.make(runtime.clock.now())
    assert checkpoint is not None and checkpoint.seq == 6 and not checkpoint.timestamped
    _append(runtime, 2)  # entries after the checkpoint are covered by the chain and the head
    report = audit_report(runtime)
    assert report.intact, report.lines()
    assert (report.entries, report.last_seq, report.head_seq, report.first_broken) == (8, 8, 8, None)
    [status] = report.checkpoints
    assert status.seq == 6 and status.signer and "tỉnh Demo" in status.signer and not status.timestamp_valid
    assert report.lines() == [report.summary()]
    assert report.summary().startswith("audit chain intact: 8 entries, 1 checkpoints (latest at seq 6, signed by ")
    assert report.summary().endswith("not timestamped)")
    assert report.to_dict()["latest_checkpoint"]["valid"] is True


def test_the_report_lists_one_line_per_problem_first_break_first(runtime: Runtime) -> None:
    _append(runtime, 6)
    assert runtime.checkpoints.make(runtime.clock.now()) is not None
    with transaction(runtime.db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(kind="dossier.refused"))
        conn.execute(update(audit_checkpoint).where(audit_checkpoint.c.seq == 6).values(head_hash="0" * 64))
    report = audit_report(runtime)
    assert not report.intact and report.first_broken == 2
    assert [(p.seq, p.kind) for p in report.problems] == [(2, "changed"), (6, "checkpoint")]
    assert report.lines()[0] == "entry 2 was changed (its content does not match its hash)"
    assert report.lines()[1].startswith("checkpoint at 6 does not match entry 6")
    assert report.summary() == "audit log BROKEN: 2 problem(s), first at entry 2"


def test_a_checkpoint_signed_by_another_key_is_refused(runtime: Runtime) -> None:
    """A checkpoint signed with a valid certificate of the same PKI that is not the audit agency's seal."""
    _append(runtime, 3)
    checkpoint = runtime.checkpoints.make(runtime.clock.now())
    assert checkpoint is not None
    other = next(k for k in runtime.pki.key_ids() if k.startswith("agency:") and k != f"agency:{AUDIT_AGENCY}")
    signature = sign_detached(checkpoint.statement, runtime.keys.signer_for(other))
    with transaction(runtime.db) as conn:
        conn.execute(update(audit_checkpoint).where(audit_checkpoint.c.seq == 3).values(signature=signature))
    [problem] = audit_report(runtime).problems
    assert problem.seq == 3 and f"not by the seal of agency {AUDIT_AGENCY}" in problem.message


def test_verification_streams_the_log_instead_of_loading_it(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    _append(runtime, 7)
    monkeypatch.setattr(SqlAuditLog, "all", lambda self: pytest.fail("verify must not load the whole log"))
    seen: list[int] = []
    original = SqlAuditLog.stream

    def stream(self: SqlAuditLog, conn: Any, batch: int = 3) -> Any:
        seen.append(batch)
        return original(self, conn, batch=3)

    monkeypatch.setattr(SqlAuditLog, "stream", stream)
    assert runtime.audit.verify() is None
    assert audit_report(runtime).intact
    assert seen == [3, 3]


def test_verification_on_sqlite_does_not_block_an_append(runtime: Runtime) -> None:
    """The reader's snapshot is a plain read transaction: an append commits while it is open, unseen by it."""
    _append(runtime, 3)
    with runtime.audit.snapshot() as conn:
        before = conn.execute(select(audit_log.c.seq)).scalars().all()
        runtime.audit.append(event(4))  # would wait for the reader's write lock if it had one
        assert conn.execute(select(audit_log.c.seq)).scalars().all() == before == [1, 2, 3]
    assert runtime.audit.verify() is None and runtime.audit.head()[0] == 4


# ---------------------------------------------------------------- scheduled checkpoints (housekeeping)


def test_housekeeping_checkpoints_when_the_latest_is_old_and_the_head_moved(runtime: Runtime) -> None:
    clock = runtime.clock
    assert isinstance(clock, SimulatedClock)
    every = runtime.settings.audit_checkpoint_minutes
    assert every > 0
    runtime.checkpoint_tick()
    assert runtime.checkpoints.all() == []  # an empty log: nothing to sign
    _append(runtime, 2)
    runtime.checkpoint_tick()
    [first] = runtime.checkpoints.all()
    assert (first.seq, first.trigger) == (2, "schedule")
    _append(runtime, 1)
    clock.advance(dt.timedelta(minutes=every - 1))
    runtime.checkpoint_tick()
    assert len(runtime.checkpoints.all()) == 1  # not yet due
    clock.advance(dt.timedelta(minutes=1))
    runtime.checkpoint_tick()
    assert [c.seq for c in runtime.checkpoints.all()] == [2, 3]
    clock.advance(dt.timedelta(minutes=every * 3))
    runtime.checkpoint_tick()
    assert len(runtime.checkpoints.all()) == 2  # the head did not move: nothing new to sign
    assert runtime.checkpoints.make_if_due(clock.now(), 0) is None  # 0: never


def test_two_processes_checkpointing_the_same_head_keep_one_row(runtime: Runtime) -> None:
    _append(runtime, 4)
    other = AuditCheckpoints(runtime.db, runtime.audit, AUDIT_AGENCY, runtime.checkpoints.sign)
    now = runtime.clock.now()
    a = runtime.checkpoints.make(now, trigger="schedule")
    b = other.make(now + dt.timedelta(seconds=1), trigger="schedule")
    assert a is not None and b is not None and a == b
    assert len(runtime.checkpoints.all()) == 1


def test_the_housekeeping_thread_makes_the_scheduled_checkpoint(runtime: Runtime) -> None:
    _append(runtime, 3)
    runtime.start_housekeeping(0.05, fire_timers=False)
    deadline = time.monotonic() + 20
    while not runtime.checkpoints.all() and time.monotonic() < deadline:
        time.sleep(0.05)
    latest = runtime.checkpoints.latest()
    assert latest is not None and latest.seq == 3 and latest.trigger == "schedule"
    assert audit_report(runtime).intact


# ---------------------------------------------------------------- head anchors in the object store


def _tamper_tail(runtime: Runtime, keep: int, rewrite_last: bool = False) -> None:
    """What someone holding the database can do to the newest entries: delete those after ``keep`` (or rewrite
    entry ``keep`` with a recomputed hash) and set the head row to match, so the chain and the head verify."""
    from persistence.schema import audit_head

    with transaction(runtime.db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > keep))
        if rewrite_last:
            row = conn.execute(select(audit_log).where(audit_log.c.seq == keep)).one()
            forged = AuditEvent(row.kind, "someone-else", row.at, row.dossier_code, row.details)
            conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == keep)
                .values(actor="someone-else", entry_hash=chain_hash(row.prev_hash, forged, keep))
            )
        last = conn.execute(select(audit_log).where(audit_log.c.seq == keep)).one()
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=keep, entry_hash=last.entry_hash))


def test_housekeeping_anchors_the_head_and_verify_names_the_deleted_newest_entries(runtime: Runtime) -> None:
    assert runtime.settings.audit_anchor_seconds > 0
    runtime.anchor_tick()
    assert runtime.store.list_keys("audit/anchors") == []  # an empty log: nothing to anchor
    _append(runtime, 5)
    runtime.__dict__["_anchor_at"] = 0.0  # the interval has passed
    runtime.anchor_tick()
    head_seq, head_hash = runtime.audit.head()
    assert runtime.store.list_keys("audit/anchors") == [anchor_key(5, head_hash)]
    _append(runtime, 1)
    runtime.anchor_tick()  # within MOTCUA_AUDIT_ANCHOR_SECONDS: not yet
    assert len(runtime.store.list_keys("audit/anchors")) == 1
    assert audit_report(runtime).intact

    _tamper_tail(runtime, keep=3)
    assert runtime.audit.verify() is None  # the chain and the head row agree: only the anchor shows it
    report = audit_report(runtime)
    assert not report.intact
    assert report.lines() == [
        "entries 4–5 are missing: the object store holds an anchor of the head at entry 5, the log ends at 3"
    ]
    assert report.summary() == "audit log BROKEN: 1 problem(s), first at entry 4"


def test_rewriting_the_newest_entry_with_its_hash_recomputed_is_caught_by_its_anchor(runtime: Runtime) -> None:
    _append(runtime, 4)
    assert runtime.anchors.write() == 4
    assert runtime.anchors.write() is None  # the same head again: nothing new
    _tamper_tail(runtime, keep=4, rewrite_last=True)
    assert runtime.audit.verify() is None
    [problem] = audit_report(runtime).problems
    assert (problem.seq, problem.kind) == (4, "changed")
    assert problem.message.startswith("entry 4 does not match the head anchored in the object store")
    # anchoring the rewritten head afterwards does not hide it: the first anchor of entry 4 stays
    runtime.anchors._written = 0
    assert runtime.anchors.write() == 4
    assert len(runtime.store.list_keys("audit/anchors")) == 2
    assert [p.seq for p in audit_report(runtime).problems] == [4]


def test_anchors_are_write_once_and_no_orphans(runtime: Runtime) -> None:
    from storage.check import find_orphans
    from storage.errors import WriteOnceViolation

    _append(runtime, 2)
    runtime.anchors.write()
    [key] = runtime.store.list_keys("audit/anchors")
    with pytest.raises(WriteOnceViolation):
        runtime.store.delete(key)  # type: ignore[attr-defined]
    assert key not in {o.key for o in find_orphans(runtime.store, set())}
