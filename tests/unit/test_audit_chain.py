"""The audit hash chain (DESIGN §10): entry hash = SHA-256(previous hash ‖ SHA-256(canonical entry)).

Pure tests of ``dossiers.audit`` first, then ``motcua.audit.SqlAuditLog`` over a real database where rows
are tampered with directly: every edit, deletion or reordering is located at the first broken entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from dossiers.audit import (
    GENESIS_HASH,
    SEARCH_WINDOW,
    ChainScan,
    anchor_key,
    anchor_problems,
    anchor_seq,
    anchor_statement,
    canonical_event,
    chain_hash,
    chain_problems,
    checkpoint_problems,
    checkpoint_statement,
    head_problem,
    timestamp_problems,
    verify_chain,
)
from dossiers.calendar import VN_TZ
from dossiers.ports import AuditEntry, AuditEvent
from motcua.app import Runtime
from motcua.audit import AuditCheckpoints, SqlAuditLog, audit_report
from motcua.clock import SimulatedClock
from motcua.db import audit_checkpoint, audit_log, transaction
from motcua.settings import Settings
from signing.cms import sign_detached

AUDIT_AGENCY = Settings().audit_agency

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


# ---------------------------------------------------------------- pure: naming the first break (ChainScan)


def scan_of(entries: list[AuditEntry], watch: tuple[int, ...] = ()) -> ChainScan:
    scan = ChainScan(watch)
    for entry in entries:
        scan.feed(entry)
    return scan


def swapped(entries: list[AuditEntry], a: int, b: int) -> list[AuditEntry]:
    """What swapping two rows' seq in the table gives when read in seq order: the rows trade places."""
    out = list(entries)
    ia, ib = a - 1, b - 1
    out[ia], out[ib] = (dataclasses.replace(entries[ib], seq=a), dataclasses.replace(entries[ia], seq=b))
    return out


def _edited(entries: list[AuditEntry]) -> list[AuditEntry]:
    out = list(entries)
    out[2] = dataclasses.replace(out[2], event=dataclasses.replace(out[2].event, actor="forger"))
    return out


def _recomputed(entries: list[AuditEntry]) -> list[AuditEntry]:
    out = list(entries)
    forged = dataclasses.replace(out[2].event, details={"n": 3, "note": "sửa"})
    out[2] = dataclasses.replace(out[2], event=forged, entry_hash=chain_hash(out[2].prev_hash, forged, 3))
    return out


def _renumbered_after_deletion(entries: list[AuditEntry]) -> list[AuditEntry]:
    rest = entries[:2] + entries[3:]
    return [dataclasses.replace(e, seq=i) for i, e in enumerate(rest, start=1)]


def _inserted(entries: list[AuditEntry]) -> list[AuditEntry]:
    """A well-formed entry of another chain inserted before entry 3, the rest shifted up by one."""
    intruder = dataclasses.replace(build_chain([event(1), event(2), event(99)])[2], prev_hash="9" * 64)
    intruder = dataclasses.replace(intruder, entry_hash=chain_hash(intruder.prev_hash, intruder.event, 3))
    shifted = [dataclasses.replace(e, seq=e.seq + 1) for e in entries[2:]]
    return [*entries[:2], intruder, *shifted]


TAMPERINGS = {
    "edited": (_edited, 3, "changed", "entry 3 was changed"),
    "stored hash": (
        lambda es: [*es[:3], dataclasses.replace(es[3], entry_hash="2" * 64), *es[4:]],
        4,
        "changed",
        "entry 4 was changed",
    ),
    "stored prev hash": (
        lambda es: [*es[:1], dataclasses.replace(es[1], prev_hash="1" * 64), *es[2:]],
        2,
        "changed",
        "entry 2 was changed",
    ),
    "recomputed": (_recomputed, 4, "relinked", "entry 4 does not follow entry 3"),
    "deleted middle": (lambda es: es[:2] + es[3:], 3, "missing", "entry 3 is missing"),
    "deleted first": (lambda es: es[1:], 1, "missing", "entry 1 is missing"),
    "deleted two": (lambda es: es[:1] + es[3:], 2, "missing", "entries 2–3 are missing"),
    "renumbered": (_renumbered_after_deletion, 3, "missing", "entry 3 is missing (the later entries were renumbered)"),
    "swapped far": (lambda es: swapped(es, 2, 6), 2, "reordered", "entries out of order at 2"),
    "swapped adjacent": (lambda es: swapped(es, 3, 4), 3, "reordered", "entries out of order at 3"),
    "inserted": (_inserted, 3, "extra", "entry 3 is not part of the chain"),
    "first rewritten": (
        lambda es: (
            [dataclasses.replace(es[0], prev_hash="5" * 64, entry_hash=chain_hash("5" * 64, es[0].event, 1))] + es[1:]
        ),
        1,
        "relinked",
        "entry 1 was rewritten",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_the_first_break_is_named_and_located(name: str) -> None:
    tamper, seq, kind, text = TAMPERINGS[name]
    entries = build_chain([event(i) for i in range(1, 9)])
    tampered = tamper(entries)
    scan = scan_of(tampered)
    problem = scan.problem()
    assert problem is not None and not scan.intact
    assert (problem.seq, problem.kind) == (seq, kind), problem
    assert problem.message.startswith(text), problem.message
    assert scan.first_bad == verify_chain(tampered)  # the legacy answer is unchanged


def test_a_scan_of_an_intact_chain_keeps_the_watched_hashes_and_the_end() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    scan = scan_of(entries, watch=(2, 5, 9))
    assert scan.intact and scan.problem() is None and scan.first_bad is None
    assert (scan.count, scan.last_seq, scan.last_hash) == (5, 5, entries[-1].entry_hash)
    assert scan.hashes == {2: entries[1].entry_hash, 5: entries[4].entry_hash}
    empty = ChainScan()
    assert empty.intact and (empty.count, empty.last_seq, empty.last_hash) == (0, 0, GENESIS_HASH)


def test_a_far_move_is_still_located_when_its_original_place_is_outside_the_search_window() -> None:
    entries = build_chain([event(i) for i in range(1, SEARCH_WINDOW + 12)])
    far = len(entries)
    problem = scan_of(swapped(entries, 2, far)).problem()
    assert problem is not None and problem.seq == 2 and problem.kind == "reordered", problem
    assert f"was entry {far}" in problem.message


def test_the_head_row_tells_truncation_extra_entries_and_a_rewritten_newest_entry() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    scan = scan_of(entries)
    assert head_problem(scan, (5, entries[-1].entry_hash)) is None
    assert head_problem(ChainScan(), None) is None
    truncated = head_problem(scan_of(entries[:3]), (5, entries[-1].entry_hash))
    assert truncated is not None and (truncated.seq, truncated.kind) == (4, "truncated")
    assert truncated.message == "head says 5 entries, log ends at 3"
    extra = head_problem(scan, (4, entries[3].entry_hash))
    assert extra is not None and (extra.seq, extra.kind) == (5, "extra")
    rewritten = head_problem(scan, (5, "f" * 64))
    assert rewritten is not None and (rewritten.seq, rewritten.kind) == (5, "changed")
    missing = head_problem(scan, None)
    assert missing is not None and missing.kind == "head"


def test_an_entry_added_behind_the_heads_back_is_one_problem() -> None:
    entries = build_chain([event(i) for i in range(1, 4)])
    forged = AuditEntry(seq=4, event=event(4), prev_hash="3" * 64, entry_hash="4" * 64)
    problems = chain_problems(scan_of([*entries, forged]), (3, entries[-1].entry_hash))
    assert [(p.seq, p.kind) for p in problems] == [(4, "extra")]
    assert "head says 3 entries, log ends at 4" in problems[0].message
    both = chain_problems(scan_of(entries[:1] + entries[2:]), (3, entries[-1].entry_hash))
    assert [(p.seq, p.kind) for p in both] == [(2, "missing")]


# ---------------------------------------------------------------- pure: checkpoints against the log


def test_a_checkpoint_that_matches_its_entry_has_no_problem() -> None:
    entries = build_chain([event(i) for i in range(1, 6)])
    head = entries[3].entry_hash
    statement = checkpoint_statement("000.00.00.H99", 4, head, T0)
    assert checkpoint_problems(4, head, "000.00.00.H99", statement, head, 5) == []


def test_checkpoint_problems_name_the_checkpoint_and_what_is_wrong() -> None:
    head, other = "a" * 64, "b" * 64
    statement = checkpoint_statement("X", 4, head, T0)
    [rewritten] = checkpoint_problems(4, head, "X", statement, other, 9, last_good=2)
    assert rewritten.seq == 4 and rewritten.message.startswith("checkpoint at 4 does not match entry 4")
    assert "after entry 2" in rewritten.message
    [row_changed] = checkpoint_problems(4, other, "X", statement, head, 9)
    assert row_changed.message.startswith("checkpoint at 4 does not match entry 4")
    assert row_changed.message.endswith("its stored head hash was changed (the signed statement still matches the log)")
    [beyond] = checkpoint_problems(4, head, "X", statement, None, 3)
    assert "the log ends at 3" in beyond.message
    [unreadable] = checkpoint_problems(4, head, "X", b"{not json", head, 9)
    assert unreadable.message == "checkpoint at 4: its signed statement cannot be read"
    [moved] = checkpoint_problems(5, head, "X", statement, head, 9)
    assert "signed statement is about entry 4" in moved.message
    assert checkpoint_problems(4, head, "Y", statement, head, 9)[0].message.endswith("of agency X")


def test_timestamping_never_stops_once_started() -> None:
    assert timestamp_problems([(1, False), (2, False), (3, True), (4, True)]) == []
    [late] = timestamp_problems([(1, False), (3, True), (5, False), (7, True)])
    assert late.seq == 5 and "not timestamped although the one at 3 is" in late.message


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


def test_anchor_keys_name_their_entry_and_compare_with_the_log_without_reading_objects() -> None:
    key = anchor_key(12_345, "a" * 64)
    assert key.startswith("audit/anchors/00000001/000000012345/") and anchor_seq(key) == 12_345
    assert key.rsplit("/", 1)[1] == hashlib.sha256(anchor_statement(12_345, "a" * 64)).hexdigest()
    for foreign in ("audit/anchors/00000002/000000012345/" + "0" * 64, "0.0/dossiers/x/result/" + "0" * 64):
        assert anchor_seq(foreign) is None
    hashes = {3: "c" * 64, 5: "e" * 64}
    assert anchor_problems([anchor_key(3, "c" * 64), anchor_key(5, "e" * 64)], hashes, 5) == []
    [gone] = anchor_problems([anchor_key(5, "e" * 64), anchor_key(8, "x" * 64)], hashes, 5)
    assert (gone.seq, gone.kind, gone.message) == (
        6,
        "truncated",
        "entries 6–8 are missing: the object store holds an anchor of the head at entry 8, the log ends at 5",
    )
    [one] = anchor_problems([anchor_key(6, "x" * 64)], hashes, 5)
    assert one.message.startswith("entry 6 is missing: ")
    [rewritten] = anchor_problems([anchor_key(3, "c" * 64), anchor_key(5, "f" * 64)], hashes, 5)
    assert (rewritten.seq, rewritten.kind) == (5, "changed")
    assert rewritten.message == (
        "entry 5 does not match the head anchored in the object store: the log was rewritten at or before entry 5 "
        "(the anchor at entry 3 still matches)"
    )


def _tamper_tail(runtime: Runtime, keep: int, rewrite_last: bool = False) -> None:
    """What someone holding the database can do to the newest entries: delete those after ``keep`` (or rewrite
    entry ``keep`` with a recomputed hash) and set the head row to match, so the chain and the head verify."""
    from motcua.db import audit_head

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
