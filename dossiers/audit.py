"""Audit-chain rules: entry hash = SHA-256(previous hash ‖ SHA-256(canonical entry)).

Any edit, deletion or reordering of stored entries changes a hash further down the chain, and
``verify_chain`` names the first entry where the chain breaks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
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
    inner = hashlib.sha256(canonical_event(event, seq)).hexdigest()
    return hashlib.sha256((prev_hash + inner).encode()).hexdigest()


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
