"""The audit hash chain (DESIGN §10): entry hash = SHA-256(previous hash ‖ SHA-256(canonical entry)).

Pure tests of ``dossiers.audit`` first, then ``motcua.audit.SqlAuditLog`` over a real database where rows
are tampered with directly: every edit, deletion or reordering is located at the first broken entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import delete, select, update

from dossiers.audit import GENESIS_HASH, canonical_event, chain_hash, verify_chain
from dossiers.calendar import VN_TZ
from dossiers.ports import AuditEntry, AuditEvent
from motcua.app import Runtime
from motcua.db import audit_log, transaction

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # Monday 08:00 in Vietnam


def event(i: int, *, at: dt.datetime | None = None, **details: object) -> AuditEvent:
    return AuditEvent(
        kind="dossier.received" if i % 2 else "document.stored",
        actor=f"user{i}",
        at=at or T0 + dt.timedelta(minutes=i),
        dossier_code=f"000.00.31.H99-260302-{i:04d}",
        details=details or {"n": i, "note": "Hồ sơ hợp lệ"},
    )


def build_chain(events: list[AuditEvent]) -> list[AuditEntry]:
    entries, prev = [], GENESIS_HASH
    for seq, ev in enumerate(events, start=1):
        h = chain_hash(prev, ev, seq)
        entries.append(AuditEntry(seq=seq, event=ev, prev_hash=prev, entry_hash=h))
        prev = h
    return entries


def resequence(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Renumber and re-chain — what a forger with write access to the table would have to do."""
    return build_chain([e.event for e in entries])


# ---------------------------------------------------------------- pure: chain_hash


def test_chain_hash_is_sha256_of_previous_hash_and_canonical_entry_digest() -> None:
    ev = event(1)
    inner = hashlib.sha256(canonical_event(ev, 1)).hexdigest()
    assert chain_hash(GENESIS_HASH, ev, 1) == hashlib.sha256((GENESIS_HASH + inner).encode()).hexdigest()
    assert len(chain_hash(GENESIS_HASH, ev, 1)) == 64
    assert GENESIS_HASH == "0" * 64


def test_canonical_entry_is_sorted_compact_utf8_json_of_every_field() -> None:
    ev = event(3, b=2, a="Đ")
    raw = canonical_event(ev, 7)
    assert json.loads(raw) == {
        "seq": 7,
        "kind": ev.kind,
        "actor": ev.actor,
        "at": ev.at.isoformat(),
        "dossier": ev.dossier_code,
        "details": {"a": "Đ", "b": 2},
    }
    assert b" " not in raw.replace("Đ".encode(), b"")  # compact separators
    assert "Đ".encode() in raw  # UTF-8, not \\u escapes
    assert raw.index(b'"actor"') < raw.index(b'"at"') < raw.index(b'"details"') < raw.index(b'"seq"')


def test_chain_hash_is_deterministic_and_independent_of_details_key_order() -> None:
    a = dataclasses.replace(event(1), details={"x": 1, "y": [1, 2]})
    b = dataclasses.replace(event(1), details={"y": [1, 2], "x": 1})
    assert chain_hash(GENESIS_HASH, a, 1) == chain_hash(GENESIS_HASH, b, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "dossier.refused"},
        {"actor": "someone.else"},
        {"at": T0 + dt.timedelta(microseconds=1)},
        {"dossier_code": None},
        {"details": {"n": 1, "note": "Hồ sơ không hợp lệ"}},
    ],
    ids=["kind", "actor", "at", "dossier", "details"],
)
def test_every_field_of_the_entry_is_covered_by_the_hash(change: dict[str, object]) -> None:
    ev = event(1)
    assert chain_hash(GENESIS_HASH, dataclasses.replace(ev, **change), 1) != chain_hash(GENESIS_HASH, ev, 1)


def test_sequence_number_and_previous_hash_are_covered_by_the_hash() -> None:
    ev = event(1)
    h = chain_hash(GENESIS_HASH, ev, 1)
    assert chain_hash(GENESIS_HASH, ev, 2) != h
    assert chain_hash("f" * 64, ev, 1) != h


# ---------------------------------------------------------------- pure: verify_chain


def test_empty_and_intact_chains_verify() -> None:
    assert verify_chain([]) is None
    assert verify_chain(build_chain([event(1)])) is None
    assert verify_chain(build_chain([event(i) for i in range(1, 8)])) is None


def test_edited_entry_is_located() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    entries[2] = dataclasses.replace(entries[2], event=dataclasses.replace(entries[2].event, actor="forger"))
    assert verify_chain(entries) == 3


def test_edited_entry_with_recomputed_hash_breaks_the_next_link() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    forged = dataclasses.replace(entries[2].event, details={"n": 3, "note": "sửa"})
    entries[2] = dataclasses.replace(entries[2], event=forged, entry_hash=chain_hash(entries[2].prev_hash, forged, 3))
    assert verify_chain(entries) == 4


def test_last_entry_edited_with_recomputed_hash_is_only_caught_by_a_known_head() -> None:
    """The chain alone cannot see a rewritten *newest* entry; that is what a signed head is for."""
    entries = build_chain([event(i) for i in range(1, 4)])
    head = entries[-1].entry_hash
    forged = dataclasses.replace(entries[2].event, actor="forger")
    entries[2] = dataclasses.replace(entries[2], event=forged, entry_hash=chain_hash(entries[2].prev_hash, forged, 3))
    assert verify_chain(entries) is None
    assert entries[-1].entry_hash != head


def test_tampered_stored_hashes_are_located() -> None:
    entries = build_chain([event(i) for i in range(1, 5)])
    bad_prev = list(entries)
    bad_prev[1] = dataclasses.replace(bad_prev[1], prev_hash="1" * 64)
    assert verify_chain(bad_prev) == 2
    bad_hash = list(entries)
    bad_hash[3] = dataclasses.replace(bad_hash[3], entry_hash="2" * 64)
    assert verify_chain(bad_hash) == 4


def test_deleted_middle_entry_is_located_at_the_gap() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    del entries[2]  # seq 3
    assert verify_chain(entries) == 4


def test_deleted_first_entry_is_located() -> None:
    entries = build_chain([event(i) for i in range(1, 4)])
    assert verify_chain(entries[1:]) == 2


def test_deleted_entry_with_renumbered_rest_still_breaks() -> None:
    """Renumbering after a deletion does not help: the later hashes were computed with the old seq."""
    entries = build_chain([event(i) for i in range(1, 6)])
    del entries[2]
    renumbered = [dataclasses.replace(e, seq=i) for i, e in enumerate(entries, start=1)]
    assert verify_chain(renumbered) == 3


def test_reordered_entries_are_located() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    swapped = [entries[0], entries[2], entries[1], *entries[3:]]
    assert verify_chain(swapped) == 3  # the entry that now comes second still carries seq 3
    renumbered = [dataclasses.replace(e, seq=i) for i, e in enumerate(swapped, start=1)]
    assert verify_chain(renumbered) == 2


def test_inserted_entry_is_located() -> None:
    entries = build_chain([event(i) for i in range(1, 4)])
    intruder = build_chain([event(1), event(99)])[1]  # a well-formed entry of another chain
    assert verify_chain([entries[0], intruder, *entries[1:]]) == 2


def test_a_fully_rewritten_chain_verifies_so_only_a_known_head_detects_it() -> None:
    entries = build_chain([event(i) for i in range(1, 5)])
    rewritten = resequence([entries[0], entries[1], entries[3]])
    assert verify_chain(rewritten) is None
    assert rewritten[-1].entry_hash not in {e.entry_hash for e in entries}


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
