"""The audit hash chain (DESIGN §10): entry hash = SHA-256(previous hash ‖ SHA-256(canonical entry)).

Pure tests of ``dossiers.audit``: every edit, deletion or reordering is located at the first broken entry. The
same over a real database (``persistence.audit_log.SqlAuditLog``, checkpoints, anchors) is
tests/integration/test_audit_chain.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest

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
from dossiers.ports import AuditEntry, AuditEvent
from motcua.settings import Settings

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
