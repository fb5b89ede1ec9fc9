"""Audit-chain rules: entry hash = SHA-256(previous hash ‖ SHA-256(canonical entry)).

Any edit, deletion or reordering of stored entries changes a hash further down the chain, and
``verify_chain`` names the first entry where the chain breaks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dossiers.ports import AuditEntry, AuditEvent

GENESIS_HASH = "0" * 64


def canonical_event(event: AuditEvent, seq: int) -> bytes:
    body: Mapping[str, Any] = {
        "seq": seq,
        "kind": event.kind,
        "actor": event.actor,
        "at": event.at.astimezone(dt.UTC).isoformat(),  # the same instant whatever offset the clock gave
        "dossier": event.dossier_code,
        "details": event.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, event: AuditEvent, seq: int) -> str:
    return link(prev_hash, inner_hash(event, seq))


def verify_chain(entries: Iterable[AuditEntry]) -> int | None:
    """Return the ``seq`` of the first entry that does not chain, or None when all do."""
    prev = GENESIS_HASH
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq or entry.prev_hash != prev:
            return entry.seq
        if chain_hash(prev, entry.event, entry.seq) != entry.entry_hash:
            return entry.seq
        prev = entry.entry_hash
        expected_seq += 1
    return None


def inner_hash(event: AuditEvent, seq: int) -> str:
    """SHA-256 of the canonical entry: what a proof carries for entries of *other* dossiers (no content)."""
    return hashlib.sha256(canonical_event(event, seq)).hexdigest()


def link(prev_hash: str, inner: str) -> str:
    """The chain step: entry hash = SHA-256(previous hash ‖ inner hash)."""
    return hashlib.sha256((prev_hash + inner).encode()).hexdigest()


# ---------------------------------------------------------------- proofs and checkpoints


@dataclass(frozen=True)
class ProofStep:
    """One entry on the path of a proof: the full entry when it is the dossier's, only its inner hash when it
    is someone else's (their personal data never leaves the log)."""

    seq: int
    inner_hash: str
    entry: AuditEntry | None = None


@dataclass(frozen=True)
class ChainProof:
    """That a dossier's entries are in the log, in this order, up to the checkpoint at ``checkpoint_seq``: from
    ``start_prev_hash`` (the hash before the dossier's first entry), chaining every step gives the checkpoint's
    head hash, which the agency signed and a TSA timestamped."""

    dossier_code: str
    start_prev_hash: str
    steps: tuple[ProofStep, ...]
    checkpoint_seq: int


def chain_proof(entries: Sequence[AuditEntry], dossier_code: str, checkpoint_seq: int) -> ChainProof:
    """Build the proof from the log's entries (in seq order, covering the dossier's first entry up to
    ``checkpoint_seq``). Entries after the checkpoint are not covered: a later checkpoint proves them."""
    steps: list[ProofStep] = []
    start: str | None = None
    for entry in entries:
        if entry.seq > checkpoint_seq:
            break
        mine = entry.event.dossier_code == dossier_code
        if start is None:
            if not mine:
                continue
            start = entry.prev_hash
        steps.append(ProofStep(entry.seq, inner_hash(entry.event, entry.seq), entry if mine else None))
    if start is None:
        return ChainProof(dossier_code, GENESIS_HASH, (), checkpoint_seq)
    return ChainProof(dossier_code, start, tuple(steps), checkpoint_seq)


def verify_proof(proof: ChainProof, checkpoint_head_hash: str) -> str | None:
    """None when the proof holds up to the signed head; otherwise what is wrong, naming the entry."""
    prev = proof.start_prev_hash
    expected_seq = proof.steps[0].seq if proof.steps else proof.checkpoint_seq + 1
    for step in proof.steps:
        if step.seq != expected_seq:
            return f"entry {expected_seq} is missing from the proof (found {step.seq})"
        if step.entry is not None:
            if step.entry.event.dossier_code != proof.dossier_code:
                return f"entry {step.seq} belongs to another dossier"
            if inner_hash(step.entry.event, step.seq) != step.inner_hash:
                return f"entry {step.seq} was changed (its content does not match its hash)"
            if step.entry.prev_hash != prev or step.entry.entry_hash != link(prev, step.inner_hash):
                return f"entry {step.seq} does not chain to the entry before it"
        prev = link(prev, step.inner_hash)
        expected_seq += 1
    if not proof.steps:
        return None
    if expected_seq - 1 != proof.checkpoint_seq:
        return f"the proof ends at entry {expected_seq - 1}, not at the checkpoint's entry {proof.checkpoint_seq}"
    if prev != checkpoint_head_hash:
        return f"the chain up to entry {proof.checkpoint_seq} does not reach the checkpoint's signed head hash"
    return None


def checkpoint_statement(agency_code: str, seq: int, head_hash: str, at: dt.datetime) -> bytes:
    """The canonical bytes an agency signs for a checkpoint of its log's head."""
    body = {
        "type": "motcua.audit.checkpoint/1",
        "agency": agency_code,
        "seq": seq,
        "head_hash": head_hash,
        "at": at.astimezone(dt.UTC).isoformat(),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_checkpoint_statement(data: bytes) -> tuple[str, int, str, dt.datetime]:
    """(agency, seq, head hash, time) of a statement made by :func:`checkpoint_statement`; ValueError if not one."""
    body = json.loads(data)
    if not isinstance(body, dict) or body.get("type") != "motcua.audit.checkpoint/1":
        raise ValueError("not an audit checkpoint statement")
    return str(body["agency"]), int(body["seq"]), str(body["head_hash"]), dt.datetime.fromisoformat(str(body["at"]))


# ---------------------------------------------------------------- locating and naming what is wrong

SEARCH_WINDOW = 64  # how far (in seq) a moved or renumbered entry's original place is looked for


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with the log, at the entry ``seq`` it names, in a sentence for people.

    ``kind``: ``changed`` (an entry's content or stored hashes were edited), ``missing`` (deleted),
    ``reordered`` (entries moved), ``extra`` (an entry that is not part of the chain), ``relinked`` (an entry
    chains to a different predecessor: the one before it was rewritten with a recomputed hash, or it was),
    ``truncated`` (the head names entries the log no longer has), ``head`` (the head row itself is wrong),
    ``checkpoint`` (a signed checkpoint does not match the log or its signature does not hold)."""

    seq: int
    kind: str
    message: str


def _original_seq(entry: AuditEntry, expected_seq: int) -> int | None:
    """The seq the entry was hashed with, if it is near ``expected_seq``: where a moved or renumbered entry was."""
    inner_at = [expected_seq]
    for delta in range(1, SEARCH_WINDOW + 1):
        inner_at.append(expected_seq + delta)
        if expected_seq - delta >= 1:
            inner_at.append(expected_seq - delta)
    for seq in inner_at:
        if link(entry.prev_hash, inner_hash(entry.event, seq)) == entry.entry_hash:
            return seq
    return None


class ChainScan:
    """Checks a log read in seq order, one entry at a time, in constant memory (a million entries stream).

    ``first_bad`` is what :func:`verify_chain` answers (the seq of the first entry that does not chain);
    :meth:`problem` names the first break and what happened there — changed, missing, reordered, extra or
    relinked — looking at the entries after it to tell a moved entry from an edited one. ``hashes`` keeps the
    stored hash of the ``watch`` seqs (the checkpoints' entries)."""

    def __init__(self, watch: Iterable[int] = ()) -> None:
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.first_bad: int | None = None
        self.hashes: dict[int, str] = {}
        self._watch = frozenset(watch)
        self._expected_seq = 1
        self._prev = GENESIS_HASH
        self._bad: AuditEntry | None = None
        self._origin: int | None = None  # the seq the first bad entry was hashed with, when found
        self._displaced: int | None = None  # where the entry that should follow the last good one is stored

    def feed(self, entry: AuditEntry) -> None:
        self.count += 1
        self.last_seq = entry.seq
        self.last_hash = entry.entry_hash
        if entry.seq in self._watch:
            self.hashes[entry.seq] = entry.entry_hash
        bad = self._bad
        if bad is None:
            if (
                entry.seq == self._expected_seq
                and entry.prev_hash == self._prev
                and chain_hash(self._prev, entry.event, entry.seq) == entry.entry_hash
            ):
                self._prev = entry.entry_hash
                self._expected_seq += 1
                return
            self.first_bad = entry.seq
            self._bad = entry
            if entry.seq == self._expected_seq and entry.prev_hash != self._prev:
                self._origin = _original_seq(entry, entry.seq)
            return
        # after the break: where did the entries around it go?
        if self._displaced is None and entry.prev_hash == self._prev and entry.seq > bad.seq:
            self._displaced = entry.seq
        if self._origin is None and entry.entry_hash == bad.prev_hash:
            candidate = entry.seq + 1
            if link(bad.prev_hash, inner_hash(bad.event, candidate)) == bad.entry_hash:
                self._origin = candidate

    @property
    def intact(self) -> bool:
        return self._bad is None

    def problem(self) -> ChainProblem | None:
        """The first break, named; None while every entry fed so far chains."""
        bad = self._bad
        if bad is None:
            return None
        expected = self._expected_seq
        before = f"entry {expected - 1}" if expected > 1 else "the start of the log"
        if bad.seq > expected:
            if bad.seq == expected + 1:
                return ChainProblem(expected, "missing", f"entry {expected} is missing")
            return ChainProblem(expected, "missing", f"entries {expected}–{bad.seq - 1} are missing")
        if bad.seq < expected:
            return ChainProblem(
                bad.seq, "reordered", f"entries out of order at {expected}: entry {bad.seq} comes again after {before}"
            )
        if bad.prev_hash == self._prev:
            return ChainProblem(
                expected, "changed", f"entry {expected} was changed (its content does not match its hash)"
            )
        origin, displaced = self._origin, self._displaced
        if displaced is not None:
            if origin is not None and origin != expected:
                return ChainProblem(
                    expected,
                    "reordered",
                    f"entries out of order at {expected}: the entry stored as {expected} was entry {origin}, "
                    f"entry {expected} is stored as {displaced}",
                )
            return ChainProblem(
                expected,
                "extra",
                f"entry {expected} is not part of the chain (inserted: the original entry {expected} is stored as "
                f"{displaced})",
            )
        if origin == expected:
            if expected == 1:
                return ChainProblem(1, "relinked", "entry 1 was rewritten (it does not start from the genesis hash)")
            return ChainProblem(
                expected,
                "relinked",
                f"entry {expected} does not follow entry {expected - 1}: entry {expected - 1} was changed and its "
                f"hash recomputed, or entry {expected} was rewritten",
            )
        if origin is not None and origin > expected:
            if origin == expected + 1:
                return ChainProblem(
                    expected, "missing", f"entry {expected} is missing (the later entries were renumbered)"
                )
            return ChainProblem(
                expected,
                "missing",
                f"entries {expected}–{origin - 1} are missing (the later entries were renumbered)",
            )
        if origin is not None:
            return ChainProblem(
                expected,
                "reordered",
                f"entries out of order at {expected}: the entry stored as {expected} was entry {origin}",
            )
        return ChainProblem(expected, "changed", f"entry {expected} was changed (its stored hashes do not match)")


def head_problem(scan: ChainScan, head: tuple[int, str] | None) -> ChainProblem | None:
    """What the head row (seq and hash of the newest entry, updated with every append) says against the log:
    deleting the newest entries, or rewriting the newest with a recomputed hash, shows only here."""
    if head is None:
        if scan.count == 0:
            return None
        return ChainProblem(1, "head", f"the head row is missing, the log has {scan.count} entries")
    head_seq, head_hash = head
    if head_seq > scan.last_seq:
        return ChainProblem(
            scan.last_seq + 1, "truncated", f"head says {head_seq} entries, log ends at {scan.last_seq}"
        )
    if head_seq < scan.last_seq:
        return ChainProblem(
            head_seq + 1,
            "extra",
            f"head says {head_seq} entries, log ends at {scan.last_seq} (entries added behind the log's back)",
        )
    if head_hash != scan.last_hash:
        return ChainProblem(
            head_seq, "changed", f"entry {head_seq} was changed (it does not match the head: rewritten with a new hash)"
        )
    return None


def chain_problems(scan: ChainScan, head: tuple[int, str] | None) -> list[ChainProblem]:
    """The first break of the chain and what the head says, one problem per tampering where they are one: an
    entry added after the head's seq is ``extra`` rather than "changed"."""
    first = scan.problem()
    at_head = head_problem(scan, head)
    if first is not None and at_head is not None and at_head.kind == "extra" and first.seq >= at_head.seq:
        return [ChainProblem(first.seq, "extra", f"entry {first.seq} is not part of the chain ({at_head.message})")]
    return [p for p in (first, at_head) if p is not None]


def checkpoint_problems(
    seq: int,
    head_hash: str,
    agency_code: str,
    statement: bytes,
    entry_hash: str | None,
    log_end: int,
    *,
    last_good: int | None = None,
) -> list[ChainProblem]:
    """A stored checkpoint (``seq``, ``head_hash``, ``agency_code`` and the signed ``statement``) against the log,
    whose entry ``seq`` has the stored hash ``entry_hash`` (None: the log does not have it). The signature is
    checked elsewhere (it needs the certificates); ``last_good`` is the latest earlier checkpoint that matched."""
    try:
        s_agency, s_seq, s_head, _at = parse_checkpoint_statement(statement)
    except (ValueError, KeyError, TypeError):
        return [ChainProblem(seq, "checkpoint", f"checkpoint at {seq}: its signed statement cannot be read")]
    problems: list[ChainProblem] = []
    if s_seq != seq or s_agency != agency_code:
        problems.append(
            ChainProblem(
                seq,
                "checkpoint",
                f"checkpoint at {seq} was changed: its signed statement is about entry {s_seq} of agency {s_agency}",
            )
        )
    if entry_hash is None:
        problems.append(
            ChainProblem(
                seq, "checkpoint", f"checkpoint at {seq} does not match entry {seq}: the log ends at {log_end}"
            )
        )
        return problems
    reasons = []
    if s_head != entry_hash:
        since = f", after entry {last_good} (the checkpoint there still matches)" if last_good is not None else ""
        reasons.append(f"the signed head hash is not the log's: the log was rewritten at or before entry {seq}{since}")
    if head_hash != s_head:
        still = " (the signed statement still matches the log)" if s_head == entry_hash else ""
        reasons.append(f"its stored head hash was changed{still}")
    if reasons:
        problems.append(
            ChainProblem(seq, "checkpoint", f"checkpoint at {seq} does not match entry {seq}: " + "; ".join(reasons))
        )
    return problems


def timestamp_problems(checkpoints: Sequence[tuple[int, bool]]) -> list[ChainProblem]:
    """Checkpoints ``(seq, has a valid timestamp)`` in seq order: once the agency timestamps its checkpoints it
    never stops (signing fails when the TSA does not answer), so a later checkpoint without a timestamp was
    re-signed by someone holding the key but not the TSA."""
    problems: list[ChainProblem] = []
    first_stamped: int | None = None
    for seq, stamped in checkpoints:
        if stamped and first_stamped is None:
            first_stamped = seq
        elif not stamped and first_stamped is not None:
            problems.append(
                ChainProblem(
                    seq,
                    "checkpoint",
                    f"checkpoint at {seq} is not timestamped although the one at {first_stamped} is "
                    "(re-signed without the time-stamping authority?)",
                )
            )
    return problems


# ---------------------------------------------------------------- head anchors outside the database

ANCHOR_PREFIX = "audit/anchors"
ANCHOR_BUCKET = 10_000  # anchors are grouped by seq // ANCHOR_BUCKET: the newest are found without listing all


def anchor_statement(seq: int, head_hash: str) -> bytes:
    """The canonical bytes of a head anchor: nothing but the seq and the hash, so every process anchoring the same
    head writes the same object."""
    body = {"type": "motcua.audit.anchor/1", "seq": seq, "head_hash": head_hash}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def anchor_folder(seq: int) -> str:
    """Where the anchors of ``seq`` are kept in the object store (the key adds the statement's SHA-256)."""
    return f"{ANCHOR_PREFIX}/{seq // ANCHOR_BUCKET:08d}/{seq:012d}"


def anchor_key(seq: int, head_hash: str) -> str:
    """The object key of the anchor of entry ``seq`` with hash ``head_hash``: content-addressed, so a listing of
    keys is enough to compare anchors with the log (no object needs to be read)."""
    return f"{anchor_folder(seq)}/{hashlib.sha256(anchor_statement(seq, head_hash)).hexdigest()}"


def anchor_seq(key: str) -> int | None:
    """The entry an anchor key names, or None when ``key`` is not an anchor's."""
    parts = key.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != ANCHOR_PREFIX or not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    seq = int(parts[3])
    return seq if parts[2] == f"{seq // ANCHOR_BUCKET:08d}" else None


def anchor_problems(keys: Iterable[str], hashes: Mapping[int, str], log_end: int) -> list[ChainProblem]:
    """The anchors found in the object store (``keys``) against the log ending at ``log_end``, whose entries have
    the stored hashes ``hashes`` (at least at the anchored seqs up to ``log_end``). An anchor beyond the end
    means the newest entries were deleted (even with the head row rewritten to match); an anchor that is not the
    one of the stored entry means the log was rewritten at or before it (hashes recomputed) — also when the
    rewritten head was anchored again later: the earlier anchor of that seq stays in the store."""
    beyond: int | None = None
    rewritten: int | None = None
    matched: int | None = None
    for key in keys:
        seq = anchor_seq(key)
        if seq is None:
            continue
        if seq > log_end:
            beyond = max(seq, beyond or seq)
            continue
        stored = hashes.get(seq)
        if stored is not None and anchor_key(seq, stored) == key:
            matched = seq if matched is None or seq > matched else matched
            continue
        rewritten = seq if rewritten is None or seq < rewritten else rewritten
    problems: list[ChainProblem] = []
    if rewritten is not None:
        since = f" (the anchor at entry {matched} still matches)" if matched is not None and matched < rewritten else ""
        problems.append(
            ChainProblem(
                rewritten,
                "changed",
                f"entry {rewritten} does not match the head anchored in the object store: the log was rewritten "
                f"at or before entry {rewritten}{since}",
            )
        )
    if beyond is not None:
        first = log_end + 1
        what = f"entry {first} is missing" if beyond == first else f"entries {first}–{beyond} are missing"
        problems.append(
            ChainProblem(
                first,
                "truncated",
                f"{what}: the object store holds an anchor of the head at entry {beyond}, the log ends at {log_end}",
            )
        )
    return problems
