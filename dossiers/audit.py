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
