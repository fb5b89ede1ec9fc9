"""The audit log in the database: one append-only, hash-chained table (DESIGN §10).

Appends take the chain head row under a lock (``FOR UPDATE`` on PostgreSQL, the single writer on SQLite)
in the caller's transaction, so an event is recorded exactly when the change it describes commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dossiers.audit import GENESIS_HASH, chain_hash, checkpoint_statement, verify_chain
from dossiers.ports import AuditEntry, AuditEvent
from motcua.db import audit_checkpoint, audit_head, audit_log, is_sqlite, transaction


def _canonical_details(details: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(dict(details), default=str, sort_keys=True))  # type: ignore[no-any-return]


class SqlAuditLog:
    def __init__(self, db: Engine) -> None:
        self.db = db
        self._sqlite = is_sqlite(db)

    def append(self, event: AuditEvent) -> AuditEntry:
        event = AuditEvent(
            kind=event.kind,
            actor=event.actor,
            at=event.at,
            dossier_code=event.dossier_code,
            details=_canonical_details(event.details),
        )
        with transaction(self.db) as conn:
            # the head row must exist before it can be locked: otherwise concurrent first appends on an empty
            # PostgreSQL log would all take seq 1 (nothing to lock) and all but one fail
            upsert = sqlite_insert if self._sqlite else pg_insert
            conn.execute(
                upsert(audit_head)
                .values(id=1, seq=0, entry_hash=GENESIS_HASH)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            query = select(audit_head).where(audit_head.c.id == 1)
            if not self._sqlite:
                query = query.with_for_update()
            head = conn.execute(query).one()
            seq = head.seq + 1
            prev = head.entry_hash
            entry_hash = chain_hash(prev, event, seq)
            conn.execute(
                insert(audit_log).values(
                    seq=seq,
                    kind=event.kind,
                    actor=event.actor,
                    at=event.at,
                    dossier_code=event.dossier_code,
                    details=dict(event.details),
                    prev_hash=prev,
                    entry_hash=entry_hash,
                )
            )
            conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, entry_hash=entry_hash))
        return AuditEntry(seq=seq, event=event, prev_hash=prev, entry_hash=entry_hash)

    @staticmethod
    def _entry(r: Any) -> AuditEntry:
        return AuditEntry(
            seq=r.seq,
            event=AuditEvent(kind=r.kind, actor=r.actor, at=r.at, dossier_code=r.dossier_code, details=r.details),
            prev_hash=r.prev_hash,
            entry_hash=r.entry_hash,
        )

    def for_dossier(self, dossier_code: str) -> list[AuditEntry]:
        with transaction(self.db) as conn:
            rows = conn.execute(
                select(audit_log).where(audit_log.c.dossier_code == dossier_code).order_by(audit_log.c.seq)
            ).all()
        return [self._entry(r) for r in rows]

    def all(self) -> list[AuditEntry]:
        with transaction(self.db) as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
        return [self._entry(r) for r in rows]

    def verify(self) -> int | None:
        """``seq`` of the first broken entry, or None when the whole chain holds. The head row names the
        newest entry, so deleting entries from the end is detected too (reported as the first missing seq)."""
        entries = self.all()
        broken = verify_chain(entries)
        if broken is not None:
            return broken
        with transaction(self.db) as conn:
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        last_seq = entries[-1].seq if entries else 0
        last_hash = entries[-1].entry_hash if entries else GENESIS_HASH
        if head is None:
            return None if not entries else 1
        if head.seq != last_seq or head.entry_hash != last_hash:
            return min(head.seq, last_seq + 1)
        return None


@dataclass(frozen=True)
class Checkpoint:
    """A stored checkpoint: the signed statement of the head at ``seq`` (see :func:`checkpoint_statement`)."""

    seq: int
    head_hash: str
    created_at: dt.datetime
    agency_code: str
    statement: bytes
    signature: bytes  # DER, detached CMS over ``statement`` (with an RFC 3161 signature timestamp when ``timestamped``)
    timestamped: bool
    trigger: str


class AuditCheckpoints:
    """Signs the head of the audit chain with the agency's key and a TSA timestamp (DESIGN §10).

    ``sign(statement) -> (cms_der, timestamped)`` is the signing adapter (agency key from the key provider, the
    TSA from settings); a checkpoint of a head that already has one returns the existing checkpoint."""

    def __init__(
        self, db: Engine, log: SqlAuditLog, agency_code: str, sign: Callable[[bytes], tuple[bytes, bool]]
    ) -> None:
        self.db = db
        self.log = log
        self.agency_code = agency_code
        self.sign = sign

    @staticmethod
    def _row(r: Any) -> Checkpoint:
        return Checkpoint(
            seq=r.seq,
            head_hash=r.head_hash,
            created_at=r.created_at,
            agency_code=r.agency_code,
            statement=bytes(r.statement),
            signature=bytes(r.signature),
            timestamped=bool(r.timestamped),
            trigger=r.trigger,
        )

    def make(self, now: dt.datetime, trigger: str = "demand") -> Checkpoint | None:
        """Checkpoint the current head (None while the log is empty). Signing happens outside any lock: the
        statement names a head that can never change, so a concurrent append does not invalidate it."""
        with transaction(self.db) as conn:
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
            if head is None or head.seq == 0:
                return None
            found = conn.execute(select(audit_checkpoint).where(audit_checkpoint.c.seq == head.seq)).first()
            if found is not None:
                return self._row(found)
        statement = checkpoint_statement(self.agency_code, head.seq, head.entry_hash, now)
        signature, timestamped = self.sign(statement)
        upsert = sqlite_insert if is_sqlite(self.db) else pg_insert
        with transaction(self.db) as conn:
            conn.execute(
                upsert(audit_checkpoint)
                .values(
                    seq=head.seq,
                    head_hash=head.entry_hash,
                    created_at=now,
                    agency_code=self.agency_code,
                    statement=statement,
                    signature=signature,
                    timestamped=timestamped,
                    trigger=trigger,
                )
                .on_conflict_do_nothing(index_elements=["seq"])
            )
            row = conn.execute(select(audit_checkpoint).where(audit_checkpoint.c.seq == head.seq)).one()
        return self._row(row)

    def all(self) -> list[Checkpoint]:
        with transaction(self.db) as conn:
            rows = conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.seq)).all()
        return [self._row(r) for r in rows]

    def latest(self) -> Checkpoint | None:
        with transaction(self.db) as conn:
            row = conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.seq.desc()).limit(1)).first()
        return None if row is None else self._row(row)
