"""The audit log in the database: one append-only, hash-chained table (DESIGN §10).

Appends take the chain head row under a lock (``FOR UPDATE`` on PostgreSQL, the single writer on SQLite)
in the caller's transaction, so an event is recorded exactly when the change it describes commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dossiers.audit import GENESIS_HASH, chain_hash, verify_chain
from dossiers.ports import AuditEntry, AuditEvent
from motcua.db import audit_head, audit_log, is_sqlite, transaction


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
